"""Rectifying detected QR codes by homography, and finding their orientation.

`rectify` maps each predicted quadrilateral (4 corners, clockwise) onto an
axis-aligned square with a margin around it (the quiet zone: it keeps the
code whole when a corner is predicted a little inside), sampling bilinearly
(`jaxvis.ops.image.warp_perspective`). `orient` then finds which corner of the
rectified square is the code's own top-left: three corners of a QR code carry
a finder pattern (7x7 modules: dark ring, light ring, dark 3x3 centre) and a
light separator; the corner that matches it worst is the bottom-right, and the
top-left is the one opposite. All functions are pure and jittable.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxvis.ops import image as image_ops

MODULE_COUNTS = tuple(range(21, 58, 4))   # versions 1-10


def square_corners(size: int, margin: float) -> jax.Array:
  """(4, 2) corners of the code inside a rectified `size` x `size` crop, clockwise from top-left."""
  p = margin * size
  a, b = p - 0.5, size - 0.5 - p   # the code's outer edges (pixel centres at integers)
  return jnp.asarray([[a, a], [b, a], [b, b], [a, b]], jnp.float32)


def rectify(images: jax.Array, corners: jax.Array, size: int, margin: float = 0.1) -> jax.Array:
  """Warps each quadrilateral of each image onto a square.

  Args:
    images: (B, H, W, C) float images.
    corners: (B, K, 4, 2) (x, y) corners, clockwise.
    size: static output side.
    margin: static fraction of `size` left around the code on each side.

  Returns:
    (B, K, size, size, C) crops; outside the image reads 0.
  """
  if corners.ndim != 4 or corners.shape[-2:] != (4, 2) or corners.shape[0] != images.shape[0]:
    raise ValueError(f"corners: expected (B, K, 4, 2) with B={images.shape[0]}, got {corners.shape}")
  dst = jnp.broadcast_to(square_corners(size, margin), corners.shape)
  hs = image_ops.homography_from_points(dst, corners)   # crop pixel -> image pixel
  return image_ops.warp_perspective(images, hs, (size, size))


def _finder_template() -> np.ndarray:
  """8x8 modules at a top-left corner: the 7x7 finder and its light separator (+1 dark, -1 light)."""
  t = -np.ones((8, 8), np.float32)
  t[:7, :7] = 1
  t[1:6, 1:6] = -1
  t[2:5, 2:5] = 1
  return t


def finder_scores(gray: jax.Array, margin: float = 0.1) -> jax.Array:
  """Correlation of each corner of rectified crops with a finder pattern.

  Args:
    gray: (..., S, S) rectified grayscale crops.
    margin: the margin they were rectified with.

  Returns:
    (..., 4) best correlation over `MODULE_COUNTS`, corners clockwise from the crop's top-left.
  """
  s = gray.shape[-1]
  sq = square_corners(s, margin)
  a, b = sq[0, 0], sq[2, 0]
  counts = jnp.asarray(MODULE_COUNTS, jnp.float32)[:, None]
  c = a + (jnp.arange(8, dtype=jnp.float32)[None] + 0.5) * (b - a) / counts   # (M, 8) from the near edge
  far = b + a - c                                                              # mirrored: from the far edge
  xs = jnp.stack([c, far, far, c], 1)                                          # (M, 4 corners, 8)
  ys = jnp.stack([c, c, far, far], 1)
  yy = jnp.broadcast_to(ys[..., :, None], ys.shape + (8,))                     # (M, 4, 8, 8)
  xx = jnp.broadcast_to(xs[..., None, :], xs.shape[:2] + (8, 8))
  flat = gray.reshape((-1, s, s, 1))
  v = jax.vmap(lambda g: image_ops.bilinear_sample_points(g, yy, xx)[..., 0])(flat)   # (P, M, 4, 8, 8)
  v = v.reshape(v.shape[:3] + (64,))
  v = (v - v.mean(-1, keepdims=True)) / (v.std(-1, keepdims=True) + 1e-3)
  t = jnp.asarray(_finder_template()).reshape(-1)
  t = (t - t.mean()) / t.std()
  corr = -(v @ t) / t.size               # dark modules are low values: flip the sign
  return jnp.max(corr, 1).reshape(gray.shape[:-2] + (4,))


def orient(corners: jax.Array, scores: jax.Array) -> jax.Array:
  """Rolls clockwise corners so the first is the code's own top-left.

  Args:
    corners: (..., 4, 2) clockwise corners, in the order the crop was rectified with.
    scores: (..., 4) `finder_scores` of that crop.
  """
  start = (jnp.argmin(scores, -1) + 2) % 4        # opposite the corner without a finder pattern
  idx = (start[..., None] + jnp.arange(4)) % 4
  return jnp.take_along_axis(corners, idx[..., None], axis=-2)


@functools.partial(jax.jit, static_argnames=("size", "margin"))
def rectify_and_orient(images: jax.Array, corners: jax.Array, size: int, margin: float = 0.1):
  """`rectify` then `orient`: (oriented corners (B, K, 4, 2), crops (B, K, S, S, C) in the input order)."""
  crops = rectify(images, corners, size, margin)
  return orient(corners, finder_scores(to_gray(crops), margin)), crops


@functools.partial(jax.jit, static_argnames=("size", "margin"))
def rectify_gray(images: jax.Array, corners: jax.Array, size: int, margin: float = 0.1) -> jax.Array:
  """`rectify` to grayscale crops (B, K, S, S)."""
  return to_gray(rectify(images, corners, size, margin))


def to_gray(crops: jax.Array) -> jax.Array:
  """(..., C) RGB -> (...) luma (ITU-R 601, as OpenCV's cvtColor)."""
  return crops[..., 0] * 0.299 + crops[..., 1] * 0.587 + crops[..., 2] * 0.114
