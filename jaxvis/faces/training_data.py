"""Training sets of each stage from WIDER FACE and CelebA records (`wider.py`, `celeba.py`).

- P-Net: random crops of WIDER images (`mining.mine_random`) + CelebA landmark crops.
- R-Net / O-Net: the earlier stages' proposals on WIDER images, labelled by IoU
  (`proposals.propose` + `mining.label_proposals`), as the paper does; with
  `random_faces=True` (default) the random positive/part crops around each face
  are added too, as the authors' scripts merge their 24/48 px random crops
  with the detections; + CelebA landmark crops.
- L-Net: five jittered 24x24 patches per CelebA face (`mining.mine_lnet`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from jaxvis.data import images as image_io
from jaxvis.errors import InputError
from jaxvis.faces import mining, proposals


def load_image(path: str) -> np.ndarray:
  """An image file named in an annotation file as (H, W, 3) uint8 RGB (the shared loader)."""
  try:
    return image_io.load_image(path)
  except InputError as e:
    raise InputError(e.where, f"{e.problem} (named in the annotation file)") from None


def wider_samples(records: Sequence, stage: str, seed: int = 0, params=None,
                  negatives: int = 50, around: int = 20, random_faces: bool = True,
                  min_face_size: float = 20.0, thresholds=(0.6, 0.7)) -> mining.Samples:
  """Positive / part / negative samples of `stage` from WIDER records."""
  if stage not in mining.STAGE_SIZES:
    raise InputError("stage", f"expected one of {sorted(mining.STAGE_SIZES)}, got {stage!r}")
  size = mining.STAGE_SIZES[stage]
  rng = np.random.default_rng(seed)
  parts = []
  images = [load_image(r.path) for r in records]
  if stage != "pnet":
    props = proposals.propose(params or {}, images, stage, min_face_size, thresholds)
  for i, (r, image) in enumerate(zip(records, images)):
    if stage == "pnet":
      parts.append(mining.mine_random(image, r.boxes, size, rng, negatives, around=around, ignore=r.invalid))
      continue
    parts.append(mining.label_proposals(image, props[i], r.boxes, size, ignore=r.invalid))
    if random_faces:
      parts.append(mining.mine_random(image, r.boxes, size, rng, negatives=0, negatives_near=0,
                                      around=around, ignore=r.invalid))
  return mining.concat(parts, size)


def celeba_samples(records: Sequence, stage: str, seed: int = 0, per_face: int = 10) -> mining.Samples:
  """Landmark samples (label -2) of `stage` from CelebA records."""
  size = mining.STAGE_SIZES[stage]
  rng = np.random.default_rng(seed)
  return mining.concat([mining.mine_landmarks(load_image(r.path), r.box, r.landmarks, size, rng, per_face)
                        for r in records], size)


def celeba_lnet_samples(records: Sequence, seed: int = 0, per_face: int = 10):
  """(patches (N, 5, 24, 24, 3) uint8, targets (N, 5, 2)) for L-Net."""
  rng = np.random.default_rng(seed)
  out = [mining.mine_lnet(load_image(r.path), r.box, r.landmarks, rng, per_face) for r in records]
  if not out:
    raise InputError("records", "no CelebA faces to mine L-Net patches from")
  return np.concatenate([p for p, _ in out]), np.concatenate([t for _, t in out])
