"""Cluttered digits: sklearn's real handwritten digits on cluttered canvases with known boxes.

Each canvas holds one digit (scaled and placed at random) and clutter: fragments cut from other
digits, as in cluttered MNIST, so a classifier must find the digit and a box of the whole canvas
or of its centre is a poor localisation. Train and test canvases use disjoint source digits.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image

from jaxvis.errors import InputError


@dataclasses.dataclass(frozen=True)
class ClutteredDigitsConfig:
  """Attributes:
    canvas: canvas side in pixels.
    digit_size: (min, max) side of the placed digit in pixels.
    num_fragments: clutter fragments per canvas.
    fragment_size: side of a fragment cut from a (scaled) other digit.
    noise_std: Gaussian pixel noise added to the canvas.
    colour: render the grey canvas as RGB with a random tint per canvas (the models take 3 channels).
  """
  canvas: int = 64
  digit_size: tuple[int, int] = (20, 32)
  num_fragments: int = 6
  fragment_size: int = 8
  noise_std: float = 0.03
  colour: bool = True


def _load_digits() -> tuple[np.ndarray, np.ndarray]:
  from sklearn.datasets import load_digits
  d = load_digits()
  return (d.images / 16.0).astype(np.float32), d.target.astype(np.int32)


def _scaled(digit: np.ndarray, size: int) -> np.ndarray:
  im = Image.fromarray((digit * 255).astype(np.uint8))
  return np.asarray(im.resize((size, size), Image.BILINEAR), np.float32) / 255.0


def source_split(split: str) -> tuple[np.ndarray, np.ndarray]:
  """sklearn's 1797 digits: the first 1400 are the train sources, the rest the test sources."""
  images, labels = _load_digits()
  if split == "train":
    return images[:1400], labels[:1400]
  if split == "test":
    return images[1400:], labels[1400:]
  raise InputError("split", f"expected 'train' or 'test', got {split!r}")


def make_cluttered_digits(num: int, split: str = "train", seed: int = 0,
                          cfg: ClutteredDigitsConfig = ClutteredDigitsConfig()):
  """Generates `num` canvases.

  Returns:
    images: (num, canvas, canvas, 3 or 1) float32 in [0, 1].
    labels: (num,) int32 digit classes.
    boxes: (num, 1, 4) float32 ground-truth boxes (x1, y1, x2, y2), inclusive pixel coordinates,
      tight around the digit's ink.
  """
  if num < 1:
    raise InputError("num", f"expected >= 1, got {num}")
  lo, hi = cfg.digit_size
  if not 4 <= lo <= hi <= cfg.canvas:
    raise InputError("digit_size", f"expected 4 <= min <= max <= canvas ({cfg.canvas}), got {cfg.digit_size}")
  sources, source_labels = source_split(split)
  rng = np.random.default_rng(seed)
  cache: dict[tuple[int, int], np.ndarray] = {}

  def scaled(k: int, size: int) -> np.ndarray:  # each (digit, size) is resized once, not per canvas
    if (k, size) not in cache:
      cache[k, size] = _scaled(sources[k], size)
    return cache[k, size]

  c = cfg.canvas
  images = np.zeros((num, c, c), np.float32)
  labels = np.zeros((num,), np.int32)
  boxes = np.zeros((num, 1, 4), np.float32)
  for i in range(num):
    canvas = np.zeros((c, c), np.float32)
    for _ in range(cfg.num_fragments):
      other = scaled(int(rng.integers(len(sources))), int(rng.integers(lo, hi + 1)))
      f = min(cfg.fragment_size, other.shape[0])
      oy, ox = rng.integers(0, other.shape[0] - f + 1, size=2)
      y, x = rng.integers(0, c - f + 1, size=2)
      canvas[y:y + f, x:x + f] = np.maximum(canvas[y:y + f, x:x + f], other[oy:oy + f, ox:ox + f])
    k = int(rng.integers(len(sources)))
    size = int(rng.integers(lo, hi + 1))
    digit = scaled(k, size)
    y, x = rng.integers(0, c - size + 1, size=2)
    canvas[y:y + size, x:x + size] = np.maximum(canvas[y:y + size, x:x + size], digit)
    ys, xs = np.nonzero(digit > 0.2)
    boxes[i, 0] = (x + xs.min(), y + ys.min(), x + xs.max(), y + ys.max())
    labels[i] = source_labels[k]
    images[i] = canvas
  images = np.clip(images + cfg.noise_std * rng.standard_normal(images.shape), 0.0, 1.0)
  if not cfg.colour:
    return images[..., None].astype(np.float32), labels, boxes
  tint = rng.uniform(0.5, 1.0, size=(num, 1, 1, 3)).astype(np.float32)
  back = rng.uniform(0.0, 0.3, size=(num, 1, 1, 3)).astype(np.float32)
  rgb = back + (tint - back) * images[..., None]
  return rgb.astype(np.float32), labels, boxes
