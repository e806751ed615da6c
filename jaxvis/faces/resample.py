"""Per-image resampling inside padded canvases, for the image pyramid and the crops.

A batch of mixed image sizes is one canvas `(B, H, W, C)` plus each image's valid
`(height, width)` (top-left aligned). These ops give every image exactly what it
would get if it were processed alone, with static output shapes.

`area_resize` reproduces TensorFlow's `ResizeArea` (the resampling of the MTCNN
pyramid in the `mtcnn` package): output pixel y averages input rows over
[y * s, (y + 1) * s) with s = in / out, fractional overlaps weighted.
jax.image.resize has no box filter of that kind, hence this op (faces-local;
it could move to jaxvis.ops.image).
"""

from __future__ import annotations

import math
from typing import Sequence

import jax
import jax.numpy as jnp

from jaxvis.ops import image as image_ops


def _area_weights(in_len: jax.Array, out_len: jax.Array, out_cap: int, taps: int):
  """Row indices (out_cap, taps) and weights for one image axis (TF ResizeArea rule)."""
  scale = in_len.astype(jnp.float32) / jnp.maximum(out_len, 1).astype(jnp.float32)
  y = jnp.arange(out_cap, dtype=jnp.float32)
  lo = y * scale
  hi = (y + 1.0) * scale
  start = jnp.floor(lo)
  i = start[:, None] + jnp.arange(taps, dtype=jnp.float32)[None, :]
  w = jnp.minimum(i + 1.0, hi[:, None]) - jnp.maximum(i, lo[:, None])
  w = jnp.where(i < jnp.ceil(hi)[:, None], jnp.maximum(w, 0.0), 0.0)
  w = w / scale
  w = jnp.where((jnp.arange(out_cap) < out_len)[:, None], w, 0.0)
  idx = jnp.clip(i.astype(jnp.int32), 0, jnp.maximum(in_len - 1, 0))
  return idx, w


def area_resize(images: jax.Array, sizes: jax.Array, out_sizes: jax.Array,
                out_shape: Sequence[int], max_ratio: float) -> jax.Array:
  """Area-resizes each image's valid region to its own output size.

  Args:
    images: (B, H, W, C) canvas.
    sizes: (B, 2) int valid (height, width) of each input image.
    out_sizes: (B, 2) int output (height, width) per image, <= out_shape.
    out_shape: static (h, w) of the output canvas.
    max_ratio: static upper bound of in / out along either axis (sets the taps).

  Returns:
    (B, h, w, C); each image top-left aligned, zeros beyond its output size.
  """
  if images.ndim != 4:
    raise ValueError(f"images: expected (B, H, W, C), got shape {images.shape}")
  oh, ow = int(out_shape[0]), int(out_shape[1])
  taps = int(math.ceil(max_ratio)) + 2

  def one(img, size, osize):
    ridx, rw = _area_weights(size[0], osize[0], oh, taps)
    cidx, cw = _area_weights(size[1], osize[1], ow, taps)
    rows = jnp.einsum("ot,otwc->owc", rw, img[ridx])         # (oh, W, C)
    return jnp.einsum("pt,optc->opc", cw, rows[:, cidx])      # (oh, ow, C)

  return jax.vmap(one)(images.astype(jnp.float32), sizes, out_sizes)


def crop_boxes_tf(images: jax.Array, sizes: jax.Array, boxes: jax.Array,
                  out_size: int) -> jax.Array:
  """Crops boxes the way `tf.image.crop_and_resize` does on normalised boxes.

  The `mtcnn` package passes `box / (W, H)` as normalised coordinates, which TF
  maps back with `(W - 1, H - 1)`, so the sampled span is the box scaled by
  (W - 1) / W about the origin. Samples outside an image's own extent read 0.

  Args:
    images: (B, H, W, C) normalised canvas.
    sizes: (B, 2) valid (height, width).
    boxes: (B, K, 4) xyxy pixel boxes.
    out_size: static side of the square output.

  Returns:
    (B, K, out_size, out_size, C).
  """
  h = sizes[:, 0].astype(jnp.float32)
  w = sizes[:, 1].astype(jnp.float32)
  fx = ((w - 1) / w)[:, None]
  fy = ((h - 1) / h)[:, None]
  span = jnp.stack([boxes[..., 0] * fx, boxes[..., 1] * fy, boxes[..., 2] * fx,
                    boxes[..., 3] * fy], axis=-1)
  return crop_within(images, sizes, span, out_size)


def crop_within(images: jax.Array, sizes: jax.Array, boxes: jax.Array, out_size: int,
                extrapolation_value: float = 0.0) -> jax.Array:
  """`jaxvis.ops.image.crop_and_resize` that treats pixels beyond each image's
  valid extent as outside (so padding in a mixed-size canvas is never read)."""
  patches = image_ops.crop_and_resize(images, boxes, (out_size, out_size), extrapolation_value)
  t = jnp.linspace(0.0, 1.0, out_size)
  ys = boxes[..., 1, None] + (boxes[..., 3] - boxes[..., 1])[..., None] * t
  xs = boxes[..., 0, None] + (boxes[..., 2] - boxes[..., 0])[..., None] * t
  hmax = (sizes[:, 0] - 1).astype(jnp.float32)[:, None, None]
  wmax = (sizes[:, 1] - 1).astype(jnp.float32)[:, None, None]
  in_y = (ys >= 0) & (ys <= hmax)
  in_x = (xs >= 0) & (xs <= wmax)
  inside = in_y[..., :, None] & in_x[..., None, :]
  return jnp.where(inside[..., None], patches, extrapolation_value)


def crop_pool_tf(images: jax.Array, sizes: jax.Array, image_idx: jax.Array, boxes: jax.Array,
                 out_size: int) -> jax.Array:
  """`crop_boxes_tf` for a flat pool of boxes drawn from any images of the batch.

  Args:
    images: (B, H, W, C) normalised canvas.
    sizes: (B, 2) valid (height, width).
    image_idx: (P,) int image of each box.
    boxes: (P, 4) xyxy pixel boxes.
    out_size: static side of the output.

  Returns:
    (P, out_size, out_size, C); samples outside the box's image read 0.
  """
  hw = sizes[image_idx].astype(jnp.float32)                       # (P, 2)
  fy = (hw[:, 0] - 1) / hw[:, 0]
  fx = (hw[:, 1] - 1) / hw[:, 1]
  t = jnp.linspace(0.0, 1.0, out_size)
  ys = (boxes[:, 1, None] + (boxes[:, 3] - boxes[:, 1])[:, None] * t) * fy[:, None]  # (P, S)
  xs = (boxes[:, 0, None] + (boxes[:, 2] - boxes[:, 0])[:, None] * t) * fx[:, None]
  y0 = jnp.floor(ys)
  x0 = jnp.floor(xs)
  wy = (ys - y0)[:, :, None, None]
  wx = (xs - x0)[:, None, :, None]
  y0 = y0.astype(jnp.int32)
  x0 = x0.astype(jnp.int32)
  hmax = hw[:, 0].astype(jnp.int32)[:, None] - 1
  wmax = hw[:, 1].astype(jnp.int32)[:, None] - 1
  b = image_idx[:, None, None]

  def at(yi, xi):
    v = images[b, jnp.clip(yi, 0, hmax)[:, :, None], jnp.clip(xi, 0, wmax)[:, None, :]]
    return v

  top = at(y0, x0) * (1 - wx) + at(y0, x0 + 1) * wx
  bottom = at(y0 + 1, x0) * (1 - wx) + at(y0 + 1, x0 + 1) * wx
  out = top * (1 - wy) + bottom * wy
  inside = ((ys >= 0) & (ys <= hmax))[:, :, None] & ((xs >= 0) & (xs <= wmax))[:, None, :]
  return jnp.where(inside[..., None], out, 0.0)
