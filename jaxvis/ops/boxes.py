"""Box ops on fixed-size, padded arrays: IoU, NMS, regression, squaring, clipping.

Boxes are `(..., 4)` float arrays `(x1, y1, x2, y2)` in pixels. Every function is
pure and jittable; the leading dimensions are batch dimensions. Sets of boxes
have a static size and a boolean `valid` mask instead of a dynamic length, so a
cascade of stages compiles once and never returns to the host.

Two conventions exist in the detection literature and both are offered:
* `offset=0.0`: width = x2 - x1 (continuous coordinates; the `mtcnn` pip package).
* `offset=1.0`: width = x2 - x1 + 1 (inclusive pixel indices; the MTCNN authors'
  MATLAB/Caffe code and most of its ports).
"""

from __future__ import annotations

import math
from typing import Literal

import jax
import jax.numpy as jnp

OverlapMode = Literal["union", "min"]
NmsMethod = Literal["fast", "greedy"]


def _check_boxes(name: str, boxes: jax.Array) -> None:
  if boxes.ndim < 1 or boxes.shape[-1] != 4:
    raise ValueError(f"{name}: expected (..., 4) boxes (x1, y1, x2, y2), got shape {boxes.shape}")


def area(boxes: jax.Array, offset: float = 0.0) -> jax.Array:
  """Areas `(x2 - x1 + offset) * (y2 - y1 + offset)`, shape `boxes.shape[:-1]`."""
  _check_boxes("boxes", boxes)
  return (boxes[..., 2] - boxes[..., 0] + offset) * (boxes[..., 3] - boxes[..., 1] + offset)


def pairwise_overlap(a: jax.Array, b: jax.Array, mode: OverlapMode = "union",
                     offset: float = 0.0) -> jax.Array:
  """Pairwise overlap of two box sets.

  Args:
    a: (..., N, 4) boxes.
    b: (..., M, 4) boxes (same leading dimensions as `a`).
    mode: "union" gives IoU = inter / (area_a + area_b - inter); "min" gives
      inter / min(area_a, area_b) (MTCNN's last NMS).
    offset: 0 for continuous widths, 1 for inclusive pixel widths.

  Returns:
    (..., N, M) overlaps. A pair with a zero denominator gives 0.
  """
  _check_boxes("a", a)
  _check_boxes("b", b)
  if mode not in ("union", "min"):
    raise ValueError(f"mode: expected 'union' or 'min', got {mode!r}")
  a_ = a[..., :, None, :]
  b_ = b[..., None, :, :]
  iw = jnp.maximum(0.0, jnp.minimum(a_[..., 2], b_[..., 2]) - jnp.maximum(a_[..., 0], b_[..., 0]) + offset)
  ih = jnp.maximum(0.0, jnp.minimum(a_[..., 3], b_[..., 3]) - jnp.maximum(a_[..., 1], b_[..., 1]) + offset)
  inter = iw * ih
  area_a = area(a, offset)[..., :, None]
  area_b = area(b, offset)[..., None, :]
  if mode == "union":
    denom = area_a + area_b - inter
  else:
    denom = jnp.minimum(area_a, area_b)
  safe = jnp.where(denom > 0, denom, 1.0)
  return jnp.where(denom > 0, inter / safe, 0.0)


def iou(a: jax.Array, b: jax.Array, offset: float = 0.0) -> jax.Array:
  """Pairwise intersection-over-union, (..., N, 4) x (..., M, 4) -> (..., N, M)."""
  return pairwise_overlap(a, b, "union", offset)


def sort_by_score(scores: jax.Array, valid: jax.Array | None = None, k: int | None = None):
  """Indices of the `k` best valid scores, best first, along the last axis.

  Args:
    scores: (..., N) scores.
    valid: optional (..., N) mask; invalid entries sort last.
    k: static number of indices to return (default N).

  Returns:
    (order, valid_sorted): (..., k) int32 indices and their validity.
  """
  n = scores.shape[-1]
  k = n if k is None else int(k)
  if not 0 < k <= n:
    raise ValueError(f"k: expected 1..{n}, got {k}")
  if valid is None:
    valid = jnp.ones(scores.shape, bool)
  keyed = jnp.where(valid, scores, -jnp.inf)
  keyed = jnp.where(jnp.isnan(keyed), -jnp.inf, keyed)
  _, order = jax.lax.top_k(keyed, k)
  return order, jnp.take_along_axis(valid, order, axis=-1)


def nms(boxes: jax.Array, scores: jax.Array, valid: jax.Array, iou_threshold: float,
        mode: OverlapMode = "union", method: NmsMethod = "fast", offset: float = 0.0,
        presorted: bool = False, groups: jax.Array | None = None) -> jax.Array:
  """Non-maximum suppression on a fixed-size set; returns the keep mask.

  Two methods:
  * "greedy": classic NMS; a box is dropped if it overlaps a higher-scoring box
    that was itself kept (the MTCNN authors' code). Sequential over N
    (a `fori_loop`), O(N^2) work.
  * "fast": a box is dropped if it overlaps any higher-scoring box, kept or not
    (what the `mtcnn` pip package computes; "Fast NMS" of YOLACT). One matrix op.

  Overlap strictly greater than `iou_threshold` suppresses (both references).

  Args:
    boxes: (..., N, 4) boxes.
    scores: (..., N) scores.
    valid: (..., N) bool; invalid boxes are neither kept nor suppress others.
    iou_threshold: static or traced float.
    mode: "union" (IoU) or "min" (intersection over the smaller box).
    method: "fast" or "greedy".
    offset: width convention, see the module docstring.
    presorted: if True the boxes are already sorted best first along N (ties
      are then resolved by position), which saves a sort.
    groups: optional (..., N) int labels; boxes suppress only boxes of their own
      group (per-class NMS, or MTCNN's NMS within each pyramid level).

  Returns:
    (..., N) bool mask of kept boxes, in the input order.
  """
  _check_boxes("boxes", boxes)
  if scores.shape != boxes.shape[:-1] or valid.shape != scores.shape:
    raise ValueError(f"scores/valid: expected shape {boxes.shape[:-1]}, got "
                     f"{scores.shape} and {valid.shape}")
  if method not in ("fast", "greedy"):
    raise ValueError(f"method: expected 'fast' or 'greedy', got {method!r}")
  lead = boxes.shape[:-2]
  n = boxes.shape[-2]
  if groups is not None and groups.shape != scores.shape:
    raise ValueError(f"groups: expected shape {scores.shape}, got {groups.shape}")
  m = math.prod(lead)  # explicit: reshape(-1, 0, 4) cannot infer -1 for an empty set
  if n == 0 or m == 0:
    return jnp.zeros(lead + (n,), bool)
  flat_boxes = boxes.reshape((m, n, 4))
  flat_scores = scores.reshape((m, n))
  flat_valid = valid.reshape((m, n))
  flat_groups = jnp.zeros((m, n), jnp.int32) if groups is None else groups.reshape((m, n))
  fn = _fast_nms_one if method == "fast" else _greedy_nms_one
  keep = jax.vmap(lambda b, s, v, g: fn(b, s, v, g, iou_threshold, mode, offset, presorted))(
      flat_boxes, flat_scores, flat_valid, flat_groups)
  return keep.reshape(lead + (n,))


def _sorted_overlaps(boxes, scores, valid, groups, thr, mode, offset, presorted):
  n = scores.shape[0]
  if presorted:
    order = jnp.arange(n)
  else:
    order, _ = sort_by_score(scores, valid)
  b, v, g = boxes[order], valid[order], groups[order]
  over = (pairwise_overlap(b, b, mode, offset) > thr) & (g[:, None] == g[None, :])
  return order, over, v


def _fast_nms_one(boxes, scores, valid, groups, thr, mode, offset, presorted):
  n = scores.shape[0]
  if n > _FAST_NMS_BLOCK:
    return _fast_nms_blocked(boxes, scores, valid, groups, thr, mode, offset, presorted)
  order, over, v = _sorted_overlaps(boxes, scores, valid, groups, thr, mode, offset, presorted)
  earlier = jnp.arange(n)[:, None] < jnp.arange(n)[None, :]  # row i ranks above column j
  suppressed = jnp.any(over & earlier & v[:, None], axis=0)
  keep_sorted = v & ~suppressed
  return jnp.zeros(n, bool).at[order].set(keep_sorted)


# Fast NMS over more boxes than this runs block by block, so its memory is
# block x block rather than n x n, and its work grows with the number of VALID
# boxes (sorted first) rather than with the set's static size: a generous cap
# (16384 P-Net cells) costs little when 1000 are used.
_FAST_NMS_BLOCK = 1024


def _fast_nms_blocked(boxes, scores, valid, groups, thr, mode, offset, presorted):
  n, blk = scores.shape[0], _FAST_NMS_BLOCK // 2
  order = jnp.arange(n) if presorted else sort_by_score(scores, valid)[0]
  pad = -n % blk
  b = jnp.pad(boxes[order], [(0, pad), (0, 0)])
  v = jnp.pad(valid[order], [(0, pad)])
  g = jnp.pad(groups[order], [(0, pad)])
  idx = jnp.arange(n + pad)
  used = jnp.max(jnp.where(v, idx + 1, 0))        # valid boxes lie in [0, used)
  blocks = (used + blk - 1) // blk
  take = lambda x, i: jax.lax.dynamic_slice_in_dim(x, i * blk, blk)

  def column(j, suppressed):                        # boxes of block j, by every earlier block
    cb, cg, ci = take(b, j), take(g, j), take(idx, j)
    def row(i, acc):
      over = (pairwise_overlap(take(b, i), cb, mode, offset) > thr) & (take(g, i)[:, None] == cg[None, :])
      return acc | jnp.any(over & (take(idx, i)[:, None] < ci[None, :]) & take(v, i)[:, None], axis=0)
    hit = jax.lax.fori_loop(0, j + 1, row, jnp.zeros(blk, bool))
    return jax.lax.dynamic_update_slice_in_dim(suppressed, hit, j * blk, 0)

  suppressed = jax.lax.fori_loop(0, blocks, column, jnp.zeros(n + pad, bool))
  keep_sorted = (v & ~suppressed)[:n]
  return jnp.zeros(n, bool).at[order].set(keep_sorted)


def _greedy_nms_one(boxes, scores, valid, groups, thr, mode, offset, presorted):
  n = scores.shape[0]
  order, over, v = _sorted_overlaps(boxes, scores, valid, groups, thr, mode, offset, presorted)

  def body(i, keep):
    # box i survives if still marked; it then removes every later box it overlaps
    later = jnp.arange(n) > i
    return jnp.where(keep[i], keep & ~(over[i] & later), keep)

  keep_sorted = jax.lax.fori_loop(0, n, body, v)
  return jnp.zeros(n, bool).at[order].set(keep_sorted)


def regress(boxes: jax.Array, deltas: jax.Array, offset: float = 1.0) -> jax.Array:
  """Applies MTCNN box regression: each coordinate moves by delta * box size.

  `x1' = x1 + dx1 * w`, `y1' = y1 + dy1 * h`, `x2' = x2 + dx2 * w`, `y2' = y2 + dy2 * h`,
  with `w = x2 - x1 + offset` (both MTCNN references use offset 1 here).
  """
  _check_boxes("boxes", boxes)
  if deltas.shape != boxes.shape:
    raise ValueError(f"deltas: expected shape {boxes.shape}, got {deltas.shape}")
  w = boxes[..., 2] - boxes[..., 0] + offset
  h = boxes[..., 3] - boxes[..., 1] + offset
  size = jnp.stack([w, h, w, h], axis=-1)
  return boxes + deltas * size


def square(boxes: jax.Array, offset: float = 0.0, round_to_int: bool = False) -> jax.Array:
  """Grows each box to a square of side max(w, h) about the same centre.

  Args:
    boxes: (..., 4).
    offset: width convention (both MTCNN references square with offset 0).
    round_to_int: truncate the corners toward zero, as the authors' `rerec`
      followed by `fix` does (the `mtcnn` package keeps fractions).
  """
  _check_boxes("boxes", boxes)
  w = boxes[..., 2] - boxes[..., 0] + offset
  h = boxes[..., 3] - boxes[..., 1] + offset
  side = jnp.maximum(w, h)
  x1 = boxes[..., 0] + 0.5 * w - 0.5 * side
  y1 = boxes[..., 1] + 0.5 * h - 0.5 * side
  x2 = x1 + side - offset
  y2 = y1 + side - offset
  out = jnp.stack([x1, y1, x2, y2], axis=-1)
  return jnp.trunc(out) if round_to_int else out


def clip(boxes: jax.Array, sizes: jax.Array) -> jax.Array:
  """Clips boxes to their image: x in [0, width - 1], y in [0, height - 1].

  Args:
    boxes: (B, ..., 4).
    sizes: (B, 2) integer (height, width) per image.
  """
  _check_boxes("boxes", boxes)
  if sizes.ndim != 2 or sizes.shape[-1] != 2 or sizes.shape[0] != boxes.shape[0]:
    raise ValueError(f"sizes: expected ({boxes.shape[0]}, 2) (height, width), got {sizes.shape}")
  extra = (1,) * (boxes.ndim - 2)
  h = sizes[:, 0].reshape((-1,) + extra).astype(boxes.dtype) - 1
  w = sizes[:, 1].reshape((-1,) + extra).astype(boxes.dtype) - 1
  hi = jnp.stack([w, h, w, h], axis=-1)
  return jnp.clip(boxes, 0.0, hi)


def xyxy_to_xywh(boxes: jax.Array) -> jax.Array:
  """(x1, y1, x2, y2) -> (x1, y1, x2 - x1, y2 - y1)."""
  _check_boxes("boxes", boxes)
  return jnp.concatenate([boxes[..., :2], boxes[..., 2:] - boxes[..., :2]], axis=-1)


def xywh_to_xyxy(boxes: jax.Array) -> jax.Array:
  """(x, y, w, h) -> (x, y, x + w, y + h)."""
  _check_boxes("boxes", boxes)
  return jnp.concatenate([boxes[..., :2], boxes[..., :2] + boxes[..., 2:]], axis=-1)


def gather_boxes(tree, order: jax.Array):
  """Gathers every leaf of `tree` (leading dims (..., N, ...)) at `order` (..., K)."""
  def take(x):
    idx = order.reshape(order.shape + (1,) * (x.ndim - order.ndim))
    return jnp.take_along_axis(x, idx, axis=order.ndim - 1)
  return jax.tree_util.tree_map(take, tree)
