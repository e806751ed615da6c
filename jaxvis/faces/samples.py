"""Real test images that ship with scikit-image: the astronaut and lfw_subset face mosaics.

Used by the parity tests, the demo and the benchmark (nothing is downloaded).
"""

from __future__ import annotations

import numpy as np

from jaxvis.errors import InputError


def _resize_uint8(image: np.ndarray, shape) -> np.ndarray:
  from skimage import transform
  out = transform.resize(image, shape, order=1, anti_aliasing=True, preserve_range=True)
  return np.clip(np.round(out), 0, 255).astype(np.uint8)


def astronaut_variants() -> dict[str, np.ndarray]:
  """The astronaut (one face) at several scales, cropped, flipped and in grayscale."""
  from skimage import color, data
  a = data.astronaut()
  gray = (color.rgb2gray(a) * 255).round().astype(np.uint8)
  return {
      "full_512": a,
      "scale_320": _resize_uint8(a, (320, 320)),
      "scale_200x260": _resize_uint8(a, (200, 260)),
      "crop_face": a[20:300, 90:370],
      "flip_lr_320": _resize_uint8(a[:, ::-1], (320, 320)),
      "gray_300": _resize_uint8(np.stack([gray] * 3, -1), (300, 300))[..., 0],  # 2-D grayscale
  }


def _backgrounds() -> list[np.ndarray]:
  from skimage import data
  from sklearn.datasets import load_sample_images
  return [data.coffee(), data.chelsea(), data.rocket()] + list(load_sample_images().images)


def lfw_faces() -> np.ndarray:
  """The 100 real 25x25 grayscale faces of skimage's lfw_subset, as uint8 RGB."""
  from skimage import data
  faces = data.lfw_subset()[:100]
  return np.repeat((faces * 255).round().astype(np.uint8)[..., None], 3, -1)


def lfw_mosaic(seed: int, shape=(320, 320), face_sizes=(48, 64, 80), n_faces: int = 4,
               background: int | None = None):
  """Real lfw faces, upscaled to `face_sizes`, pasted on a crop of a real photo.

  Returns:
    (image (H, W, 3) uint8, boxes (n, 4) where the faces were pasted, xyxy).
  """
  canvas, boxes, _ = paste_faces(seed, shape, face_sizes, n_faces, background)
  return canvas, np.array(boxes, np.float32)


def paste_faces(seed: int, shape, face_sizes, n_faces: int, background: int | None = None):
  """`lfw_mosaic`'s drawing: (canvas, boxes as xyxy tuples, index of each pasted lfw face)."""
  rng = np.random.default_rng(seed)
  bgs = _backgrounds()
  bg = bgs[rng.integers(len(bgs)) if background is None else background]
  h, w = shape
  y0 = rng.integers(0, max(1, bg.shape[0] - h))
  x0 = rng.integers(0, max(1, bg.shape[1] - w))
  canvas = _resize_uint8(bg, shape) if bg.shape[0] < h or bg.shape[1] < w else bg[y0:y0 + h, x0:x0 + w].copy()
  faces = lfw_faces()
  boxes, picked = [], []
  for _ in range(200):  # rejection-sample non-overlapping spots
    if len(boxes) == n_faces:
      break
    s = int(rng.choice(face_sizes))
    y, x = int(rng.integers(0, h - s)), int(rng.integers(0, w - s))
    if any(not (x + s + 8 < bx1 or bx2 + 8 < x or y + s + 8 < by1 or by2 + 8 < y) for bx1, by1, bx2, by2 in boxes):
      continue
    k = int(rng.integers(len(faces)))
    canvas[y:y + s, x:x + s] = _resize_uint8(faces[k], (s, s))
    boxes.append((x, y, x + s - 1, y + s - 1))
    picked.append(k)
  return canvas, boxes, picked


def frames(n: int, height: int, width: int, seed: int = 0) -> np.ndarray:
  """n real-photo frames of (height, width) with 1-4 real lfw faces each, uint8 (n, H, W, 3)."""
  rng = np.random.default_rng(seed)
  out = np.zeros((n, height, width, 3), np.uint8)
  unit = min(height, width) / 320.0  # face sizes scale with the frame
  sizes = tuple(int(round(s * unit)) for s in (40, 56, 72))
  for i in range(n):
    bgs = len(_backgrounds())
    img, _ = lfw_mosaic(int(rng.integers(1 << 30)), (height, width), sizes,
                        int(rng.integers(1, 5)), int(rng.integers(bgs)))
    out[i] = img
  return out


def _astronaut_face() -> np.ndarray:
  """The astronaut's face (a real colour face), square crop around the package's box."""
  from skimage import data
  return data.astronaut()[55:180, 160:285]


def crowd(seed: int, shape=(480, 640), n_faces: int = 60, face_sizes=(36, 44, 52)):
  """A crowd: `n_faces` real faces (lfw_subset, some astronaut crops) tiled on a real photo.

  Faces sit in a jittered grid with a gap of at least a quarter face between
  neighbours, at sizes drawn from `face_sizes`.

  Returns:
    (image (H, W, 3) uint8, boxes (n, 4) xyxy of the pasted faces).

  Raises:
    ValueError: the faces do not fit the image.
  """
  rng = np.random.default_rng(seed)
  h, w = shape
  cell = int(max(face_sizes) * 1.25)
  rows, cols = h // cell, w // cell
  if rows * cols < n_faces:
    raise InputError("n_faces", f"{n_faces} faces of up to {max(face_sizes)} px need more than {h}x{w} "
                     f"({rows * cols} grid cells)")
  bgs = _backgrounds()
  bg = bgs[int(rng.integers(len(bgs)))]
  canvas = _resize_uint8(bg, shape)
  lfw, astro = lfw_faces(), _astronaut_face()
  boxes = []
  for c in rng.permutation(rows * cols)[:n_faces]:
    s = int(rng.choice(face_sizes))
    y = (c // cols) * cell + int(rng.integers(0, cell - s + 1))
    x = (c % cols) * cell + int(rng.integers(0, cell - s + 1))
    face = astro if rng.uniform() < 0.2 else lfw[int(rng.integers(len(lfw)))]
    canvas[y:y + s, x:x + s] = _resize_uint8(face, (s, s))
    boxes.append((x, y, x + s - 1, y + s - 1))
  return canvas, np.array(boxes, np.float32)
