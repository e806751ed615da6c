"""Detect, rectify and verify QR codes: the cascade of the MTCNN notes applied to codes.

`detect_codes(weights, images, sizes)` runs one jitted program over a padded batch:
P-Net over the pyramid -> R-Net -> O-Net (box + 4 corners) from `faces.cascade`,
then each code is rectified by the homography of its 4 corners
(`rectify.rectify`), oriented by its finder patterns and verified by the
DenseNet (`recognizer`). Images that fill a candidate cap are re-run with every
cap x4 (as `faces.cascade.detect`), so a sheet of many codes is never cut
short silently; `CodeDetections.overflow` says where even `max_codes_limit`
did not suffice. `jaxvis.faces.qr.reader.read_codes` adds the host-side
zxing-cpp decoding. `load_weights()` reads the weights shipped in
`jaxvis/assets/qr/` (trained by `experiments/qr_codes.py`).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxvis import compiled_programs
from jaxvis.errors import InputError
from jaxvis.faces import cascade, pyramid
from jaxvis.faces.qr import recognizer, rectify

WEIGHTS_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "assets", "qr",
                            "qr_weights.msgpack")
STAGES = ("pnet", "rnet", "onet", "verifier")


class CodeDetections(NamedTuple):
  """Codes per image, best first, in slots with a validity mask.

  Attributes:
    boxes: (B, F, 4) xyxy pixels (O-Net's regressed box, clipped to the image).
    scores: (B, F) O-Net probability x verifier probability (O-Net's alone without the verifier).
    corners: (B, F, 4, 2) (x, y) corners clockwise from the code's own top-left (finder patterns).
    valid: (B, F) bool.
    crops: (B, F, S, S) the rectified grayscale crops the verifier saw: upright, `margin`
      around the code, 0..255.
    overflow: (B,) bool: a candidate cap was still full at `max_codes_limit` (codes may be missing).
    proposed: (B, F) bool: O-Net's candidates before the verifier (`valid` is the verifier's
      subset; equal to `valid` without the verifier).
    proposal_scores: (B, F) O-Net probability x verifier probability of every proposed slot,
      the ones the verifier rejected included (0 elsewhere).
  """
  boxes: jax.Array
  scores: jax.Array
  corners: jax.Array
  valid: jax.Array
  crops: jax.Array
  overflow: jax.Array
  proposed: jax.Array
  proposal_scores: jax.Array


@dataclasses.dataclass(frozen=True)
class QrConfig:
  """Static settings of the QR detector.

  Attributes:
    min_code_size: smallest code box side in pixels (the pyramid starts at 12 / it).
    thresholds: P-, R-, O-Net and verifier probability thresholds.
    max_codes: output slots per image of the first run (grown x4 while an image overflows).
    crop_size: side of the rectified crops.
    margin: fraction of the crop side left around the code (verifier and orientation).
    use_verifier: apply the DenseNet recognition stage.
  """
  min_code_size: float = 20.0
  thresholds: tuple = (0.6, 0.7, 0.7, 0.5)
  max_codes: int = 32
  crop_size: int = 96
  margin: float = 0.1
  use_verifier: bool = True

  def __post_init__(self):
    if len(self.thresholds) != 4:
      raise InputError("thresholds", f"expected 4 values (P, R, O, verifier), got {self.thresholds}")
    if not self.min_code_size > 0 or self.max_codes < 1 or self.crop_size < 32:
      raise InputError("min_code_size, max_codes, crop_size", "expected > 0, >= 1, >= 32")
    if not 0 <= self.margin < 0.4:
      raise InputError("margin", f"expected in [0, 0.4), got {self.margin}")

  def cascade(self) -> cascade.CascadeConfig:
    return cascade.CascadeConfig(min_face_size=self.min_code_size, max_faces=self.max_codes,
                                 max_onet=max(64, 2 * self.max_codes), num_landmarks=4)


@functools.partial(jax.jit, static_argnames=("cfg", "ccfg"))
def _detect(weights, images, sizes, thr, cfg: QrConfig, ccfg: cascade.CascadeConfig):
  """(CodeDetections, (B, 3) overflow flags of the P, R and O stages)."""
  images = images.astype(jnp.float32)
  b = images.shape[0]
  det, stages = cascade.cascade_stages(weights, cascade.normalize(images), sizes, thr, ccfg, stage_flags=True)
  boxes, score, corners, valid = det.boxes, det.scores, det.landmarks, det.valid
  f = valid.shape[1]
  proposed = valid
  oriented, _ = rectify.rectify_and_orient(images, corners, cfg.crop_size, cfg.margin)
  gray = rectify.rectify_gray(images, oriented, cfg.crop_size, cfg.margin)
  if cfg.use_verifier:   # the verifier sees upright crops, as in its training
    prob = recognizer.probability(weights["verifier"], gray.reshape((b * f,) + gray.shape[2:])).reshape(b, f)
    valid = valid & (prob > thr[3])
    score = score * prob
  proposal_scores = jnp.where(proposed, score, 0.0)
  score = jnp.where(valid, score, 0.0)
  return CodeDetections(boxes, score, oriented, valid, gray, det.overflow, proposed, proposal_scores), stages


def detect_codes(weights, images, sizes=None, grow: bool = True, max_codes_limit: int = 4096,
                 **options) -> CodeDetections:
  """Detects, rectifies and verifies QR codes in a batch of images (jitted programs).

  Args:
    weights: {"pnet", "rnet", "onet", "verifier"} from `load_weights()` or training.
    images: (B, H, W, 3) RGB in [0, 255]; smaller images sit at the canvas' top-left.
    sizes: (B, 2) valid (height, width) per image; default: the canvas.
    grow: re-run images that filled a cap with every cap x4 (False: one program with a
      fixed output shape; `overflow` says which images were capped).
    max_codes_limit: the most slots a re-run may reach.
    **options: `QrConfig` fields.

  Returns:
    `CodeDetections` with at least `max_codes` slots per image.
  """
  images = jnp.asarray(images)
  if images.ndim != 4 or images.shape[-1] != 3:
    raise InputError("images", f"expected (B, H, W, 3) RGB, got shape {images.shape}")
  need = STAGES if options.get("use_verifier", True) else STAGES[:3]
  missing = [s for s in need if s not in weights]
  if missing:
    raise InputError("weights", f"missing {missing} (expected {STAGES})")
  b, h, w, _ = images.shape
  sizes = np.tile([[h, w]], (b, 1)) if sizes is None else np.asarray(sizes)
  if sizes.shape != (b, 2) or (sizes < 1).any() or (sizes[:, 0] > h).any() or (sizes[:, 1] > w).any():
    raise InputError("sizes", f"expected ({b}, 2) (height, width) within the {h}x{w} canvas, got {sizes.tolist()}")
  cfg = QrConfig(**options)
  if max_codes_limit < cfg.max_codes:
    raise InputError("max_codes_limit", f"expected >= max_codes ({cfg.max_codes}), got {max_codes_limit}")
  if not pyramid.pyramid_scales(h, w, cfg.min_code_size, 0.709):
    raise InputError("images", f"canvas {h}x{w} is smaller than 12 px at min_code_size={cfg.min_code_size}")
  # thresholds are traced: changing them reuses the compiled program
  static = dataclasses.replace(cfg, thresholds=(0.0, 0.0, 0.0, 0.0))
  ccfg = cfg.cascade().resolved(h, w)
  sizes = jnp.asarray(sizes, jnp.int32)
  thr = jnp.asarray(cfg.thresholds, jnp.float32)
  compiled_programs.release_if_crowded()  # a program per canvas size: stay under the mapping limit
  det, stages = _detect(weights, images, sizes, thr, static, ccfg)
  if not grow:
    return det
  return _grow(weights, images, sizes, thr, static, ccfg, det, stages, max_codes_limit)


def _grow(weights, images, sizes, thr, cfg, ccfg, det: CodeDetections, stages, limit: int) -> CodeDetections:
  """Re-runs the overflowing images with the full stages' caps x4 until none overflows
  (or `max_codes` would pass `limit`: those keep overflow=True); `cascade.grow_overflowing`."""
  run = lambda pick, grown: _detect(weights, images[pick], sizes[pick], thr, cfg, grown)
  return cascade.grow_overflowing(run, det, stages, ccfg, limit, overflow_index=5)


def read_codes(weights, images, **kwargs):
  """`jaxvis.faces.qr.reader.read_codes` (kept here for earlier callers)."""
  from jaxvis.faces.qr import reader
  return reader.read_codes(weights, images, **kwargs)


def save_weights(path: str, weights) -> None:
  """All stages as one msgpack file (flax.serialization: arrays only, nothing executable)."""
  from flax import serialization
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tree = jax.tree_util.tree_map(lambda x: np.asarray(x, np.float32), weights)
  with open(path, "wb") as f:
    f.write(serialization.msgpack_serialize(tree))


def load_weights(path: str | None = None):
  """The shipped weights (default) or a file written by `save_weights`."""
  from jaxvis.data.files import read_msgpack
  path = path or WEIGHTS_FILE
  if not os.path.exists(path):
    raise InputError("weights", f"{path} does not exist (train with `python experiments/qr_codes.py "
                                f"--save-weights`)")
  tree = read_msgpack(path)
  missing = [s for s in STAGES if s not in tree]
  if missing:
    raise InputError(path, f"lacks the QR cascade stages {missing}")
  return tree
