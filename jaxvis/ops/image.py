"""Image ops on NHWC float arrays: resize, Gaussian blur, crop-and-resize.

All functions are pure and jittable; shapes given as Python ints are static.
"""

from __future__ import annotations

import math
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np


def resize(images: jax.Array, size: Sequence[int], method: str = "bilinear",
           antialias: bool = False) -> jax.Array:
  """Resizes a batch of NHWC images to `size` = (height, width).

  Uses half-pixel centres (the same convention as PIL, OpenCV and TF2 resize).
  """
  if images.ndim != 4:
    raise ValueError(f"images: expected rank 4 (N, H, W, C), got shape {images.shape}")
  if len(size) != 2 or int(size[0]) < 1 or int(size[1]) < 1:
    raise ValueError(f"size: expected (height, width) with both >= 1, got {tuple(size)}")
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


def _filter_matrix(k: jax.Array, length: int, mode: str) -> jax.Array:
  """(length, length) matrix applying the 1-D kernel `k` along an axis with `mode` padding.

  Row i holds the taps of output i, each added to the column of the input pixel it reads after
  reflecting ("reflect", as numpy: no edge repeat) or clamping ("edge") out-of-range indices.
  """
  r = (k.shape[0] - 1) // 2
  rows = np.repeat(np.arange(length), k.shape[0])
  src = (np.arange(length)[:, None] + np.arange(-r, r + 1)[None, :]).reshape(-1)
  if mode == "reflect":
    src = np.abs(src)
    src = np.where(src > length - 1, 2 * (length - 1) - src, src)
  else:
    src = np.clip(src, 0, length - 1)
  taps = jnp.tile(k, length)
  return jnp.zeros((length, length), k.dtype).at[rows, src].add(taps)


def _separable_conv(images: jax.Array, k: jax.Array) -> jax.Array:
  """The 1-D kernel `k` along H then W (reflect padding), as two matrix products.

  A blur is a banded (H, H) matrix on the rows and a (W, W) one on the columns. XLA runs these
  as dense matmuls far faster than a depthwise (feature-grouped) conv, which XLA:CPU executes
  ~10x slower than its FLOPs suggest (the saliency objective blurs two batches every step).
  """
  r = (k.shape[0] - 1) // 2
  _, h, w, _ = images.shape
  # reflect padding needs the pad to be smaller than the side; fall back to edge.
  mode = "edge" if r >= h or r >= w else "reflect"
  mh, mw = _filter_matrix(k, h, mode), _filter_matrix(k, w, mode)
  x = jnp.einsum("hH,nHwc->nhwc", mh, images)
  return jnp.einsum("wW,nhWc->nhwc", mw, x)


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
  """Samples `image` (H, W, C) on the grid ys (h,) x xs (w,) -> (h, w, C).

  A sample whose point lies outside the image reads `extrapolation_value` whole
  (TF's crop_and_resize rule); inside, edge taps blend as in `bilinear_sample_points`.
  """
  h, w, _ = image.shape
  out = bilinear_sample_points(image, ys[:, None], xs[None, :], extrapolation_value)
  inside = ((ys >= 0) & (ys <= h - 1))[:, None] & ((xs >= 0) & (xs <= w - 1))[None, :]
  return jnp.where(inside[..., None], out, jnp.asarray(extrapolation_value, image.dtype))


# --------------------------------------------------------------------- perspective


def homography_from_points(src: jax.Array, dst: jax.Array) -> jax.Array:
  """The 3x3 homographies taking four points `src` to `dst` (direct linear transform).

  Solves the 8x8 DLT system with h33 = 1 (as `cv2.getPerspectiveTransform`).

  Args:
    src: (..., 4, 2) float (x, y) points, no three collinear.
    dst: (..., 4, 2) float (x, y) points.

  Returns:
    (..., 3, 3) float32 H with `dst ~ H @ [x, y, 1]` for each src point.
  """
  src = jnp.asarray(src, jnp.float32)
  dst = jnp.asarray(dst, jnp.float32)
  if src.shape[-2:] != (4, 2) or dst.shape != src.shape:
    raise ValueError(f"src, dst: expected two (..., 4, 2) point sets of one shape, got {src.shape} and {dst.shape}")
  x, y = src[..., 0], src[..., 1]
  u, v = dst[..., 0], dst[..., 1]
  one, zero = jnp.ones_like(x), jnp.zeros_like(x)
  rows_u = jnp.stack([x, y, one, zero, zero, zero, -u * x, -u * y], -1)   # (..., 4, 8)
  rows_v = jnp.stack([zero, zero, zero, x, y, one, -v * x, -v * y], -1)
  a = jnp.concatenate([rows_u, rows_v], -2)                                 # (..., 8, 8)
  b = jnp.concatenate([u, v], -1)[..., None]                                # (..., 8, 1)
  h = jnp.linalg.solve(a, b)[..., 0]
  return jnp.concatenate([h, jnp.ones_like(h[..., :1])], -1).reshape(h.shape[:-1] + (3, 3))


def apply_homography(homographies: jax.Array, points: jax.Array) -> jax.Array:
  """Maps (..., P, 2) points through (..., 3, 3) homographies -> (..., P, 2)."""
  pts = jnp.concatenate([points, jnp.ones_like(points[..., :1])], -1)
  out = jnp.einsum("...ij,...pj->...pi", homographies, pts)
  return out[..., :2] / out[..., 2:]


def warp_perspective(images: jax.Array, homographies: jax.Array, out_size: Sequence[int],
                     extrapolation_value: float = 0.0) -> jax.Array:
  """Perspective warp with bilinear sampling, one homography per output image.

  `homographies` map OUTPUT pixel coordinates to INPUT ones (pixel centres at
  integers), i.e. `cv2.warpPerspective(..., flags=INTER_LINEAR | WARP_INVERSE_MAP,
  borderMode=BORDER_CONSTANT)`: sampling by the inverse map needs no inversion.

  Args:
    images: (N, H, W, C) float images.
    homographies: (N, K, 3, 3) (K warps of each image) or (N, 3, 3).
    out_size: static (h, w).
    extrapolation_value: value of taps outside the image (blended, as OpenCV).

  Returns:
    (N, K, h, w, C) (or (N, h, w, C) for (N, 3, 3) homographies).
  """
  if images.ndim != 4:
    raise ValueError(f"images: expected (N, H, W, C), got shape {images.shape}")
  single = homographies.ndim == 3
  if single:
    homographies = homographies[:, None]
  if homographies.ndim != 4 or homographies.shape[-2:] != (3, 3) or homographies.shape[0] != images.shape[0]:
    raise ValueError(f"homographies: expected (N, K, 3, 3) or (N, 3, 3) with N={images.shape[0]}, "
                     f"got {homographies.shape}")
  oh, ow = int(out_size[0]), int(out_size[1])
  gy, gx = jnp.meshgrid(jnp.arange(oh, dtype=jnp.float32), jnp.arange(ow, dtype=jnp.float32), indexing="ij")
  grid = jnp.stack([gx, gy], -1).reshape(-1, 2)                             # (h*w, 2)
  src = apply_homography(homographies.astype(jnp.float32), grid[None, None])  # (N, K, hw, 2)
  sample = jax.vmap(jax.vmap(lambda im, p: bilinear_sample_points(im, p[:, 1], p[:, 0], extrapolation_value),
                             in_axes=(None, 0)), in_axes=(0, 0))
  out = sample(images, src).reshape(images.shape[0], -1, oh, ow, images.shape[-1])
  return out[:, 0] if single else out


def bilinear_sample_points(image: jax.Array, ys: jax.Array, xs: jax.Array,
                           extrapolation_value: float = 0.0) -> jax.Array:
  """Samples `image` (H, W, C) at points ys, xs (broadcastable to one shape S) -> (*S, C).

  Each of the four taps outside the image reads `extrapolation_value`, so edges
  blend into it as OpenCV's BORDER_CONSTANT does.
  """
  h, w, _ = image.shape
  y0 = jnp.floor(ys)
  x0 = jnp.floor(xs)
  wy = (ys - y0)[..., None]
  wx = (xs - x0)[..., None]
  y0i = y0.astype(jnp.int32)
  x0i = x0.astype(jnp.int32)
  fill = jnp.asarray(extrapolation_value, image.dtype)

  def tap(yi, xi):
    ok = (yi >= 0) & (yi < h) & (xi >= 0) & (xi < w)
    v = image[jnp.clip(yi, 0, h - 1), jnp.clip(xi, 0, w - 1)]
    return jnp.where(ok[..., None], v, fill)

  top = tap(y0i, x0i) * (1 - wx) + tap(y0i, x0i + 1) * wx
  bottom = tap(y0i + 1, x0i) * (1 - wx) + tap(y0i + 1, x0i + 1) * wx
  return top * (1 - wy) + bottom * wy
