"""Image ops on NHWC float arrays: resize, Gaussian blur, crop-and-resize.

All functions are pure and jittable; shapes given as Python ints are static.
"""

from __future__ import annotations

import math
from typing import Sequence

import jax
import jax.numpy as jnp


def resize(images: jax.Array, size: Sequence[int], method: str = "bilinear",
           antialias: bool = False) -> jax.Array:
  """Resizes a batch of NHWC images to `size` = (height, width).

  Uses half-pixel centres (the same convention as PIL, OpenCV and TF2 resize).
  """
  if images.ndim != 4:
    raise ValueError(f"images: expected rank 4 (N, H, W, C), got shape {images.shape}")
  n, _, _, c = images.shape
  return jax.image.resize(images, (n, int(size[0]), int(size[1]), c), method=method,
                          antialias=antialias)


def gaussian_kernel1d(sigma: float, radius: int | None = None) -> jax.Array:
  """A normalised 1-D Gaussian; `radius` defaults to ceil(3 * sigma)."""
  if sigma <= 0:
    raise ValueError(f"sigma: expected > 0, got {sigma}")
  radius = int(math.ceil(3.0 * sigma)) if radius is None else int(radius)
  x = jnp.arange(-radius, radius + 1, dtype=jnp.float32)
  k = jnp.exp(-0.5 * (x / sigma) ** 2)
  return k / k.sum()


def gaussian_blur(images: jax.Array, sigma, radius: int | None = None) -> jax.Array:
  """Separable Gaussian blur of NHWC images with reflect padding.

  Args:
    images: (N, H, W, C) float array.
    sigma: a static float (Python number). For a traced/per-image sigma use
      `gaussian_blur_traced`.
    radius: kernel half-width; defaults to ceil(3 * sigma).
  """
  k = gaussian_kernel1d(float(sigma), radius).astype(images.dtype)
  return _separable_conv(images, k)


def gaussian_blur_traced(images: jax.Array, sigma: jax.Array, radius: int) -> jax.Array:
  """Gaussian blur whose sigma is a traced scalar or per-image (N,) array.

  The kernel support is the static `radius`; weights are recomputed from sigma.
  """
  sigma = jnp.broadcast_to(jnp.asarray(sigma, jnp.float32), (images.shape[0],))
  x = jnp.arange(-radius, radius + 1, dtype=jnp.float32)
  k = jnp.exp(-0.5 * (x[None, :] / jnp.maximum(sigma[:, None], 1e-3)) ** 2)
  k = (k / k.sum(axis=1, keepdims=True)).astype(images.dtype)
  return jax.vmap(lambda im, kk: _separable_conv(im[None], kk)[0])(images, k)


def _separable_conv(images: jax.Array, k: jax.Array) -> jax.Array:
  """Depthwise conv with the 1-D kernel `k` along H then W (reflect padding)."""
  r = (k.shape[0] - 1) // 2
  n, h, w, c = images.shape
  if r >= h or r >= w:
    # reflect padding needs the pad to be smaller than the side; fall back to edge.
    mode = "edge"
  else:
    mode = "reflect"
  x = jnp.pad(images, ((0, 0), (r, r), (r, r), (0, 0)), mode=mode)
  dn = ("NHWC", "HWIO", "NHWC")
  kh = jnp.tile(k.reshape(-1, 1, 1, 1), (1, 1, 1, c))
  kw = jnp.tile(k.reshape(1, -1, 1, 1), (1, 1, 1, c))
  x = jax.lax.conv_general_dilated(x, kh, (1, 1), "VALID", dimension_numbers=dn,
                                   feature_group_count=c)
  x = jax.lax.conv_general_dilated(x, kw, (1, 1), "VALID", dimension_numbers=dn,
                                   feature_group_count=c)
  return x


def crop_and_resize(images: jax.Array, boxes: jax.Array, out_size: Sequence[int],
                    extrapolation_value: float = 0.0) -> jax.Array:
  """Bilinearly samples an (h, w) patch for every box of every image.

  Boxes are pixel coordinates `(x1, y1, x2, y2)` where the box covers pixels
  x1..x2 inclusive (the MTCNN/TF convention: a box [0, 0, W-1, H-1] is the whole
  image). Sample points lying outside the image take `extrapolation_value`, so
  boxes that stick out of the image are padded, as MTCNN's `pad` step does.

  Args:
    images: (N, H, W, C) float images.
    boxes: (N, K, 4) float boxes per image (or (N, 4) for one box per image).
    out_size: static (h, w).
    extrapolation_value: value for samples outside the image.

  Returns:
    (N, K, h, w, C) patches (or (N, h, w, C) if `boxes` was (N, 4)).
  """
  if images.ndim != 4:
    raise ValueError(f"images: expected (N, H, W, C), got shape {images.shape}")
  single = boxes.ndim == 2
  if single:
    boxes = boxes[:, None, :]
  if boxes.ndim != 3 or boxes.shape[-1] != 4 or boxes.shape[0] != images.shape[0]:
    raise ValueError(f"boxes: expected (N, K, 4) with N={images.shape[0]}, got {boxes.shape}")
  oh, ow = int(out_size[0]), int(out_size[1])
  patches = jax.vmap(_crop_one_image, in_axes=(0, 0, None, None, None))(
      images, boxes.astype(jnp.float32), oh, ow, extrapolation_value)
  return patches[:, 0] if single else patches


def _crop_one_image(image, boxes, oh, ow, extrapolation_value):
  h, w, _ = image.shape
  x1, y1, x2, y2 = (boxes[:, i] for i in range(4))
  ty = jnp.linspace(0.0, 1.0, oh) if oh > 1 else jnp.array([0.5])
  tx = jnp.linspace(0.0, 1.0, ow) if ow > 1 else jnp.array([0.5])
  ys = y1[:, None] + (y2 - y1)[:, None] * ty[None, :]  # (K, oh)
  xs = x1[:, None] + (x2 - x1)[:, None] * tx[None, :]  # (K, ow)
  return jax.vmap(lambda yy, xx: bilinear_sample(image, yy, xx, extrapolation_value))(ys, xs)


def bilinear_sample(image: jax.Array, ys: jax.Array, xs: jax.Array,
                    extrapolation_value: float = 0.0) -> jax.Array:
  """Samples `image` (H, W, C) on the grid ys (h,) x xs (w,) -> (h, w, C)."""
  h, w, _ = image.shape
  y0 = jnp.floor(ys)
  x0 = jnp.floor(xs)
  wy = (ys - y0)[:, None, None]
  wx = (xs - x0)[None, :, None]
  y0i = y0.astype(jnp.int32)
  x0i = x0.astype(jnp.int32)

  def gather(yi, xi):
    valid = ((yi >= 0) & (yi < h))[:, None] & ((xi >= 0) & (xi < w))[None, :]
    v = image[jnp.clip(yi, 0, h - 1)[:, None], jnp.clip(xi, 0, w - 1)[None, :]]
    return jnp.where(valid[..., None], v, jnp.asarray(extrapolation_value, image.dtype))

  top = gather(y0i, x0i) * (1 - wx) + gather(y0i, x0i + 1) * wx
  bottom = gather(y0i + 1, x0i) * (1 - wx) + gather(y0i + 1, x0i + 1) * wx
  out = top * (1 - wy) + bottom * wy
  inside = ((ys >= 0) & (ys <= h - 1))[:, None] & ((xs >= 0) & (xs <= w - 1))[None, :]
  return jnp.where(inside[..., None], out, jnp.asarray(extrapolation_value, image.dtype))
