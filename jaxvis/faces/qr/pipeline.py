"""Detect, rectify, verify and read QR codes: the cascade of the MTCNN notes applied to codes.

`detect_codes(weights, images, sizes)` is one jitted program over a padded batch:
P-Net over the pyramid -> R-Net -> O-Net (box + 4 corners) from `faces.cascade`,
then each code is rectified by the homography of its 4 corners
(`rectify.rectify`), oriented by its finder patterns and verified by the
DenseNet (`recognizer`). `read_codes` adds the host-side OpenCV decoding of the
rectified crops. `load_weights()` reads the weights shipped in
`jaxvis/assets/qr/` (trained by `experiments/qr_codes.py`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxvis.errors import InputError
from jaxvis.faces import cascade, pyramid
from jaxvis.faces.qr import recognizer, rectify

WEIGHTS_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "assets", "qr",
                            "qr_weights.msgpack")
STAGES = ("pnet", "rnet", "onet", "verifier")


class CodeDetections(NamedTuple):
  """Codes per image, best first, in `max_codes` slots with a validity mask.

  Attributes:
    boxes: (B, F, 4) xyxy pixels (O-Net's regressed box, clipped to the image).
    scores: (B, F) O-Net probability x verifier probability.
    corners: (B, F, 4, 2) (x, y) corners clockwise from the code's own top-left.
    valid: (B, F) bool.
    crops: (B, F, S, S) rectified grayscale crops for decoding: upright (the code's own
      top-left at the crop's top-left) with `decode_margin` around the code, 0..255.
  """
  boxes: jax.Array
  scores: jax.Array
  corners: jax.Array
  valid: jax.Array
  crops: jax.Array


@dataclasses.dataclass(frozen=True)
class QrConfig:
  """Static settings of the QR pipeline.

  Attributes:
    min_code_size: smallest code box side in pixels (the pyramid starts at 12 / it).
    thresholds: P-, R-, O-Net and verifier probability thresholds.
    max_codes: output slots per image.
    crop_size: side of the rectified crops.
    margin: fraction of the crop side left around the code (verifier and orientation).
    decode_margin: the same for the crops handed to OpenCV: wider, so that a code whose
      predicted corners fall short still lies whole in its crop.
    use_verifier: apply the DenseNet recognition stage.
  """
  min_code_size: float = 24.0
  thresholds: tuple = (0.6, 0.7, 0.7, 0.5)
  max_codes: int = 8
  crop_size: int = 160
  margin: float = 0.1
  decode_margin: float = 0.25
  use_verifier: bool = True

  def __post_init__(self):
    if len(self.thresholds) != 4:
      raise InputError("thresholds", f"expected 4 values (P, R, O, verifier), got {self.thresholds}")
    if not self.min_code_size > 0 or self.max_codes < 1 or self.crop_size < 32:
      raise InputError("min_code_size, max_codes, crop_size", "expected > 0, >= 1, >= 32")
    if not (0 <= self.margin < 0.4 and 0 <= self.decode_margin < 0.4):
      raise InputError("margin, decode_margin", f"expected in [0, 0.4), got {self.margin}, {self.decode_margin}")

  def cascade(self) -> cascade.CascadeConfig:
    return cascade.CascadeConfig(min_face_size=self.min_code_size, max_faces=self.max_codes,
                                 max_onet=max(16, self.max_codes), num_landmarks=4)


@functools.partial(jax.jit, static_argnames=("cfg",))
def _detect(weights, images, sizes, thr, cfg: QrConfig) -> CodeDetections:
  ccfg = cfg.cascade()
  images = images.astype(jnp.float32)
  b = images.shape[0]
  boxes, score, corners, valid = cascade.run_stages(weights, cascade.normalize(images), sizes, thr, ccfg)
  oriented, _ = rectify.rectify_and_orient(images, corners, cfg.crop_size, cfg.margin)
  if cfg.use_verifier:   # the verifier sees upright crops, as in its training
    f = cfg.max_codes
    gray = rectify.rectify_gray(images, oriented, cfg.crop_size, cfg.margin)
    prob = recognizer.probability(weights["verifier"], gray.reshape((b * f,) + gray.shape[2:])).reshape(b, f)
    valid = valid & (prob > thr[3])
    score = score * prob
  score = jnp.where(valid, score, 0.0)
  upright = rectify.rectify_gray(images, oriented, cfg.crop_size, cfg.decode_margin)
  return CodeDetections(boxes, score, oriented, valid, upright)


def detect_codes(weights, images, sizes=None, **options) -> CodeDetections:
  """Detects, rectifies and verifies QR codes in a batch of images (pure, jitted).

  Args:
    weights: {"pnet", "rnet", "onet", "verifier"} from `load_weights()` or training.
    images: (B, H, W, 3) RGB in [0, 255]; smaller images sit at the canvas' top-left.
    sizes: (B, 2) valid (height, width) per image; default: the canvas.
    **options: `QrConfig` fields.

  Returns:
    `CodeDetections`.
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
  if not pyramid.pyramid_scales(h, w, cfg.min_code_size, 0.709):
    raise InputError("images", f"canvas {h}x{w} is smaller than 12 px at min_code_size={cfg.min_code_size}")
  # thresholds are traced: changing them reuses the compiled program
  static = dataclasses.replace(cfg, thresholds=(0.0, 0.0, 0.0, 0.0))
  return _detect(weights, images, jnp.asarray(sizes, jnp.int32), jnp.asarray(cfg.thresholds, jnp.float32), static)


# ------------------------------------------------------------------ host convenience


def read_codes(weights, images: Sequence[np.ndarray], batch_size: int = 8, bucket: int = 64,
               **options) -> list[list[dict]]:
  """Codes with payloads in each image (numpy RGB uint8 (H, W, 3), any sizes).

  Returns:
    per image, a list of {"box": [x1, y1, x2, y2], "corners": [[x, y] x 4],
    "score": float, "payload": str or None, "corners_net": the O-Net's corners,
    "refined": bool}, best first. For a code OpenCV reads, "corners" are the 4
    corners it located in the rectified crop, mapped back through the homography
    (sharper than the O-Net's); otherwise they are the O-Net's.
  """
  import cv2

  from jaxvis.faces.qr import decode
  cfg = QrConfig(**options)
  arrays = [np.asarray(im) for im in images]
  for i, a in enumerate(arrays):
    if a.ndim != 3 or a.shape[-1] != 3:
      raise ValueError(f"images[{i}]: expected (H, W, 3) RGB, got shape {a.shape}")
  out: list[list[dict]] = [[] for _ in arrays]
  small = [i for i, a in enumerate(arrays) if min(a.shape[:2]) < cfg.min_code_size]
  todo = [i for i in range(len(arrays)) if i not in small]
  for start in range(0, len(todo), batch_size):
    chunk = todo[start:start + batch_size]
    ch = max(math.ceil(arrays[i].shape[0] / bucket) * bucket for i in chunk)
    cw = max(math.ceil(arrays[i].shape[1] / bucket) * bucket for i in chunk)
    canvas = np.zeros((batch_size, ch, cw, 3), np.uint8)   # fixed batch: one compilation per canvas
    sizes = np.tile([[ch, cw]], (batch_size, 1))
    for j, i in enumerate(chunk):
      canvas[j, :arrays[i].shape[0], :arrays[i].shape[1]] = arrays[i]
      sizes[j] = arrays[i].shape[:2]
    det = jax.device_get(detect_codes(weights, canvas, sizes, **options))
    square = np.asarray(rectify.square_corners(cfg.crop_size, cfg.decode_margin))
    for j, i in enumerate(chunk):
      for f in np.flatnonzero(det.valid[j]):
        net = np.asarray(det.corners[j, f], np.float32)
        payload, pts = decode.read_crop(det.crops[j, f], cfg.decode_margin)
        corners = net
        if pts is not None:   # crop -> image through the rectifying homography
          h = cv2.getPerspectiveTransform(square, net)
          corners = cv2.perspectiveTransform(pts[None].astype(np.float32), h)[0]
        out[i].append({"box": [round(float(v), 2) for v in det.boxes[j, f]],
                       "corners": [[round(float(x), 2), round(float(y), 2)] for x, y in corners],
                       "score": round(float(det.scores[j, f]), 4), "payload": payload,
                       "corners_net": [[round(float(x), 2), round(float(y), 2)] for x, y in net],
                       "refined": pts is not None})
  return out


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
