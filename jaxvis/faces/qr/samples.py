"""Training samples of the QR cascade, mined from generated scenes with the face-mining code.

The same rules as MTCNN (`jaxvis.faces.mining`), with the code's box in place of
the face and its 4 corners in place of the 5 landmarks:
- P-Net: random crops of each scene labelled by IoU (positive > 0.65, part
  0.4-0.65, negative < 0.3);
- R-Net / O-Net: the earlier trained stages' proposals on the scenes labelled by
  IoU (hard examples, as the paper), plus random positive / part crops;
- O-Net also gets corner samples (label -2): jittered crops around each code
  with its 4 corner targets, as CelebA gives the face landmark samples.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from jaxvis.faces import mining, proposals

NUM_CORNERS = 4


def stage_samples(scene_list: Sequence, stage: str, params=None, seed: int = 0, negatives: int = 30,
                  around: int = 12, corner_crops: int = 8, min_code_size: float = 24.0,
                  thresholds=(0.6, 0.7)) -> mining.Samples:
  """Samples of `stage` ("pnet", "rnet" or "onet") from scenes (`scenes.Scene`).

  Args:
    scene_list: generated scenes.
    stage: the stage to train.
    params: {"pnet"[, "rnet"]} trained earlier stages (R-/O-Net mining).
    seed: random crops.
    negatives: random negative crops per scene (P-Net; a third of it for R-/O-Net).
    around: random crops around each code (positives / part codes).
    corner_crops: corner samples per code (O-Net).
    min_code_size, thresholds: settings of the proposing stages.
  """
  if stage not in mining.STAGE_SIZES:
    raise ValueError(f"stage: expected one of {sorted(mining.STAGE_SIZES)}, got {stage!r}")
  size = mining.STAGE_SIZES[stage]
  rng = np.random.default_rng(seed)
  images = [s.image for s in scene_list]
  props = None
  if stage != "pnet":
    props = proposals.propose(params or {}, images, stage, min_code_size, thresholds)
  parts = []
  for i, s in enumerate(scene_list):
    if stage == "pnet":
      parts.append(mining.mine_random(s.image, s.boxes, size, rng, negatives, around=around,
                                      num_points=NUM_CORNERS))
      continue
    parts.append(mining.label_proposals(s.image, props[i], s.boxes, size, num_points=NUM_CORNERS))
    # random negatives too: a good earlier stage proposes few false codes to learn from
    parts.append(mining.mine_random(s.image, s.boxes, size, rng, negatives=negatives // 3, negatives_near=2,
                                    around=around, num_points=NUM_CORNERS))
    if stage == "onet":
      for box, corners in zip(s.boxes, s.corners):
        parts.append(mining.mine_landmarks(s.image, box, corners, size, rng, corner_crops))
  return mining.concat(parts, size, NUM_CORNERS)
