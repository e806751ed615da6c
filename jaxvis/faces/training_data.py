"""Training samples of each stage, mined one annotated image at a time.

- P-Net: random crops of WIDER images (`mining.mine_random`) + CelebA landmark crops.
- R-Net / O-Net: the earlier stages' proposals on WIDER images, labelled by IoU
  (`proposals.propose` + `mining.label_proposals`), as the paper does; with
  `random_faces=True` (default) the random positive/part crops around each face
  are added too, as the authors' scripts merge their 24/48 px random crops
  with the detections; + CelebA landmark crops.
- L-Net: five jittered 24x24 patches per CelebA face (`mining.mine_lnet`).

`mine_record` is the one miner: `sample_stream` calls it per image inside the
grain pipeline (bounded memory, resumable); `wider_samples` / `celeba_samples` /
`celeba_lnet_samples` collect it over a short list in memory (tests, small runs).
With `flip=True` each image is mirrored with probability 1/2 before mining
(boxes mirrored, left/right eye and mouth corner swapped).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from jaxvis.data import images as image_io
from jaxvis.errors import InputError
from jaxvis.faces import mining, proposals
from jaxvis.faces.celeba import CelebaRecord

# Landmark order after a left-right mirror: the eyes and the mouth corners swap.
_MIRRORED_POINTS = (1, 0, 2, 4, 3)


@dataclasses.dataclass(frozen=True)
class MiningConfig:
  """How samples of one stage are cut from an annotated image.

  Attributes:
    stage: "pnet", "rnet", "onet" or "lnet".
    negatives: random negative squares per WIDER image (P-Net; the authors use 50).
    around: positive/part crops tried around each WIDER face.
    random_faces: R/O-Net: add the random crops around faces to the proposals.
    min_face_size, thresholds: the earlier stages' settings when mining proposals.
    per_face: landmark samples per CelebA face.
    flip: mirror each image with probability 1/2 before mining.
  """
  stage: str
  negatives: int = 50
  around: int = 20
  random_faces: bool = True
  min_face_size: float = 20.0
  thresholds: tuple = (0.6, 0.7)
  per_face: int = 10
  flip: bool = False

  def __post_init__(self):
    if self.stage not in (*mining.STAGE_SIZES, "lnet"):
      raise InputError("stage", f"expected one of {sorted((*mining.STAGE_SIZES, 'lnet'))}, got {self.stage!r}")


def load_image(path: str) -> np.ndarray:
  """An image file named in an annotation file as (H, W, 3) uint8 RGB (the shared loader)."""
  try:
    return image_io.load_image(path)
  except InputError as e:
    raise InputError(e.where, f"{e.problem} (named in the annotation file)") from None


def mirror(image: np.ndarray, boxes=None, landmarks=None):
  """Left-right mirror of an image and its xyxy boxes (F, 4) / landmarks (F, 5, 2) or (5, 2)."""
  w = image.shape[1]
  out = [image[:, ::-1].copy()]
  if boxes is not None:
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    out.append(np.stack([w - 1 - b[:, 2], b[:, 1], w - 1 - b[:, 0], b[:, 3]], -1).reshape(np.shape(boxes)))
  if landmarks is not None:
    lm = np.array(landmarks, np.float32)
    lm[..., 0] = w - 1 - lm[..., 0]
    out.append(lm[..., _MIRRORED_POINTS, :])
  return tuple(out)


def _flip_now(cfg: MiningConfig, rng: np.random.Generator) -> bool:
  return cfg.flip and bool(rng.integers(2))


def mine_wider(record, cfg: MiningConfig, rng: np.random.Generator, params=None,
               image: np.ndarray | None = None) -> mining.Samples:
  """Positive / part / negative samples of one WIDER record (`wider.WiderRecord`)."""
  size = mining.STAGE_SIZES[cfg.stage]
  image = load_image(record.path) if image is None else image
  boxes = record.boxes
  if _flip_now(cfg, rng):
    image, boxes = mirror(image, boxes)
  if cfg.stage == "pnet":
    return mining.mine_random(image, boxes, size, rng, cfg.negatives, around=cfg.around, ignore=record.invalid)
  props = proposals.propose(params or {}, [image], cfg.stage, cfg.min_face_size, cfg.thresholds)[0]
  parts = [mining.label_proposals(image, props, boxes, size, ignore=record.invalid)]
  if cfg.random_faces:
    parts.append(mining.mine_random(image, boxes, size, rng, negatives=0, negatives_near=0,
                                    around=cfg.around, ignore=record.invalid))
  return mining.concat(parts, size)


def mine_celeba(record: CelebaRecord, cfg: MiningConfig, rng: np.random.Generator,
                image: np.ndarray | None = None):
  """Landmark samples (label -2) of one CelebA face, or for L-Net its (patches, targets)."""
  image = load_image(record.path) if image is None else image
  box, marks = record.box, record.landmarks
  if _flip_now(cfg, rng):
    image, box, marks = mirror(image, box, marks)
  if cfg.stage == "lnet":
    return mining.mine_lnet(image, box, marks, rng, cfg.per_face)
  return mining.mine_landmarks(image, box, marks, mining.STAGE_SIZES[cfg.stage], rng, cfg.per_face)


def mine_record(record, cfg: MiningConfig, rng: np.random.Generator, params=None) -> dict:
  """The training arrays of one WIDER or CelebA record, keyed as `training.train_stage` reads them."""
  if cfg.stage == "lnet":
    if not isinstance(record, CelebaRecord):
      raise InputError("records", "L-Net trains on CelebA landmark records only")
    patches, target = mine_celeba(record, cfg, rng)
    return {"patches": patches, "target": target}
  if isinstance(record, CelebaRecord):
    return mine_celeba(record, cfg, rng).as_arrays()
  return mine_wider(record, cfg, rng, params).as_arrays()


def wider_samples(records: Sequence, stage: str, seed: int = 0, params=None,
                  negatives: int = 50, around: int = 20, random_faces: bool = True,
                  min_face_size: float = 20.0, thresholds=(0.6, 0.7), flip: bool = False) -> mining.Samples:
  """Positive / part / negative samples of `stage` from a (short) list of WIDER records, in memory."""
  cfg = MiningConfig(stage, negatives, around, random_faces, min_face_size, tuple(thresholds), flip=flip)
  if stage not in mining.STAGE_SIZES:
    raise InputError("stage", f"expected one of {sorted(mining.STAGE_SIZES)}, got {stage!r}")
  rng = np.random.default_rng(seed)
  return mining.concat([mine_wider(r, cfg, rng, params) for r in records], mining.STAGE_SIZES[stage])


def celeba_samples(records: Sequence, stage: str, seed: int = 0, per_face: int = 10,
                   flip: bool = False) -> mining.Samples:
  """Landmark samples (label -2) of `stage` from a (short) list of CelebA records, in memory."""
  cfg = MiningConfig(stage, per_face=per_face, flip=flip)
  rng = np.random.default_rng(seed)
  return mining.concat([mine_celeba(r, cfg, rng) for r in records], mining.STAGE_SIZES[stage])


def celeba_lnet_samples(records: Sequence, seed: int = 0, per_face: int = 10, flip: bool = False):
  """(patches (N, 5, 24, 24, 3) uint8, targets (N, 5, 2)) for L-Net, in memory."""
  cfg = MiningConfig("lnet", per_face=per_face, flip=flip)
  rng = np.random.default_rng(seed)
  out = [mine_celeba(r, cfg, rng) for r in records]
  if not out:
    raise InputError("records", "no CelebA faces to mine L-Net patches from")
  return np.concatenate([p for p, _ in out]), np.concatenate([t for _, t in out])
