"""The MTCNN cascade as one jitted function over a padded batch of images.

Every stage works on fixed-size candidate sets (padded, with a validity mask),
so the pyramid, P-Net, both NMS rounds, R-Net, O-Net (and optionally L-Net)
compile into one XLA program and nothing returns to the host between stages.

The default settings reproduce the `mtcnn` pip package (v1.0), the detector the
issue compares against: TF area-resampled pyramid, P-Net boxes regressed before
NMS, "fast" NMS (a box falls to any better box above the threshold), squaring
without rounding, crops sampled as `tf.image.crop_and_resize` does. Where the
MTCNN authors' code differs, options give its behaviour (`nms_method="greedy"`).
Deliberate differences from the package: the pyramid follows the paper
(levels while the scaled short side >= 12, starting at 12 / min_face_size; the
package computes the level count from the image alone and so misses faces
larger than its pyramid when min_face_size < 12 * 0.709^-1), O-Net's threshold
defaults to the paper's 0.7 (the package: 0.8), and each image of a mixed-size
batch is processed exactly as if alone (the package pads to a common canvas and
runs every image through the largest image's pyramid).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxvis.faces import nets, pyramid, resample
from jaxvis.ops import boxes as box_ops

class Detections(NamedTuple):
  """Faces per image, best first; a fixed number of slots with a validity mask.

  Attributes:
    boxes: (B, F, 4) float32 (x1, y1, x2, y2) pixels, clipped to the image.
    scores: (B, F) O-Net face probability.
    landmarks: (B, F, 5, 2) (x, y) of left eye, right eye, nose, left and right
      mouth corners (not clipped).
    valid: (B, F) bool.
  """
  boxes: jax.Array
  scores: jax.Array
  landmarks: jax.Array
  valid: jax.Array


@dataclasses.dataclass(frozen=True)
class CascadeConfig:
  """Static settings of the cascade (changing one recompiles).

  Attributes:
    min_face_size: smallest face side in pixels; the pyramid starts at 12 / it.
    scale_factor: pyramid step (paper: 0.709).
    nms_pnet_scale: IoU threshold of NMS within one pyramid level.
    nms_pnet_all: IoU threshold of NMS across levels.
    nms_rnet: IoU threshold after R-Net.
    nms_onet: threshold of the final "min"-overlap NMS after O-Net.
    nms_method: "fast" (the `mtcnn` package) or "greedy" (the authors' code).
    max_pnet: P-Net candidates per image (all levels, best scores first)
      entering the two NMS rounds.
    max_rnet: candidates per image entering R-Net (and the R-Net pool's minimum size).
    max_onet: candidates per image entering O-Net (and the O-Net pool's minimum size).
    rnet_pool_per_image: R-Net crops per image of the batch, on average.
    onet_pool_per_image: O-Net crops per image of the batch, on average.
    max_faces: output slots per image.
    use_lnet: refine landmarks with L-Net (needs params["lnet"]).
    num_landmarks: O-Net's points (5 face landmarks; 4 corners for QR codes).
    pnet_chunk: images per P-Net pass (0: the whole batch at once). P-Net's pyramid
      activations dominate memory (~0.3 GB per 1080p frame in float32: batch 64 at
      1080p did not fit in 24 GB), so larger batches run P-Net chunk by chunk in a
      `lax.map`; R-Net and O-Net still see the whole batch's pooled candidates.
    dtype: compute dtype of the networks.
  """
  min_face_size: float = 20.0
  scale_factor: float = 0.709
  nms_pnet_scale: float = 0.5
  nms_pnet_all: float = 0.7
  nms_rnet: float = 0.7
  nms_onet: float = 0.7
  nms_method: str = "fast"
  max_pnet: int = 1024
  max_rnet: int = 128
  max_onet: int = 16
  rnet_pool_per_image: int = 64
  onet_pool_per_image: int = 4
  max_faces: int = 16
  use_lnet: bool = False
  num_landmarks: int = 5
  pnet_chunk: int = 16
  dtype: Any = jnp.float32

  def __post_init__(self):
    if not self.min_face_size > 0:
      raise ValueError(f"min_face_size: expected > 0, got {self.min_face_size}")
    if not 0 < self.scale_factor < 1:
      raise ValueError(f"scale_factor: expected in (0, 1), got {self.scale_factor}")
    if self.nms_method not in ("fast", "greedy"):
      raise ValueError(f"nms_method: expected 'fast' or 'greedy', got {self.nms_method!r}")
    if self.use_lnet and self.num_landmarks != 5:
      raise ValueError(f"use_lnet: L-Net refines the 5 face landmarks, got num_landmarks={self.num_landmarks}")
    for f in ("max_pnet", "max_rnet", "max_onet", "max_faces", "rnet_pool_per_image",
              "onet_pool_per_image", "num_landmarks"):
      if int(getattr(self, f)) < 1:
        raise ValueError(f"{f}: expected >= 1, got {getattr(self, f)}")
    if int(self.pnet_chunk) < 0:
      raise ValueError(f"pnet_chunk: expected >= 0 (0 = whole batch), got {self.pnet_chunk}")


def normalize(images: jax.Array) -> jax.Array:
  """uint8-range RGB -> the networks' input range, (x - 127.5) / 128."""
  return (images.astype(jnp.float32) - 127.5) / 128.0


# ----------------------------------------------------------------------------- P-Net


def _take_top(tree, scores, valid, k):
  order, valid_sorted = box_ops.sort_by_score(scores, valid, k)
  return box_ops.gather_boxes(tree, order), valid_sorted


def pnet_stage(pnet_params, norm, sizes, cfg: CascadeConfig, thr):
  """P-Net over the pyramid mosaic -> (B, max_rnet) square boxes, scores, validity."""
  hc, wc = norm.shape[1:3]
  plan = pyramid.plan(hc, wc, cfg.min_face_size, cfg.scale_factor)
  if not plan.levels:
    raise ValueError(f"images: canvas {hc}x{wc} is too small for min_face_size="
                     f"{cfg.min_face_size} (P-Net needs 12 px at the first scale)")
  lsizes = pyramid.level_sizes(plan, sizes)                       # (B, L, 2)
  mosaic = pyramid.build_mosaic(plan, norm, sizes, lsizes)
  deltas, logits = nets.PNet(cfg.dtype).apply(
      {"params": pnet_params}, mosaic, conv1_mask=pyramid.conv1_mask(plan, lsizes))
  b, gh, gw, _ = deltas.shape
  prob = jax.nn.softmax(logits, axis=-1)[..., 1].reshape(b, -1)
  level, ly, lx = (jnp.asarray(t) for t in pyramid.cell_tables(plan, gh, gw))
  lv = jnp.maximum(level, 0)
  cells = pyramid.pnet_cells(lsizes)                              # (B, L, 2)
  level_ok = jnp.minimum(lsizes[..., 0], lsizes[..., 1]) >= pyramid.PNET_CELL
  ok = ((level >= 0)[None] & level_ok[:, lv] & (ly[None] < cells[:, lv, 0])
        & (lx[None] < cells[:, lv, 1]) & (prob > thr))
  k = min(prob.shape[1], cfg.max_pnet)
  order, valid = box_ops.sort_by_score(prob, ok, k)
  score = jnp.take_along_axis(prob, order, axis=1)
  d = jnp.take_along_axis(deltas.reshape(b, -1, 4), order[..., None], axis=1)
  cl = lv[order]
  x = lx[order].astype(jnp.float32) * pyramid.PNET_STRIDE
  y = ly[order].astype(jnp.float32) * pyramid.PNET_STRIDE
  # The window spans [2x + 1, 2x + 12] (the authors' 1-based convention, kept by
  # the package), and the package regresses it (w = 11) before NMS.
  win = jnp.stack([x + 1, y + 1, x + pyramid.PNET_CELL, y + pyramid.PNET_CELL], axis=-1)
  scales = jnp.asarray([l.scale for l in plan.levels], jnp.float32)
  boxes = box_ops.regress(win, d, offset=0.0) / scales[cl][..., None]
  valid = valid & box_ops.nms(boxes, score, valid, cfg.nms_pnet_scale, "union", cfg.nms_method,
                              presorted=True, groups=cl)
  valid = valid & box_ops.nms(boxes, score, valid, cfg.nms_pnet_all, "union", cfg.nms_method,
                              presorted=True)
  (boxes, score), valid = _take_top((boxes, score), score, valid, min(k, cfg.max_rnet))
  return box_ops.square(boxes), score, valid


# ----------------------------------------------------------------------- R-Net, O-Net
#
# After P-Net the candidates of the whole batch form one flat pool (each with its
# image index), so R-Net and O-Net run on pool_per_image * B crops rather than on
# the per-image maximum for every image; NMS stays per image (grouped by index).


def _pool_size(cfg_cap: int, per_image: int, batch: int, available: int) -> int:
  return max(1, min(available, max(cfg_cap, per_image * batch)))


def _round_robin_pick(score, valid, rank, size: int):
  """Flat indices of `size` candidates: every image's best first, then its 2nd..."""
  big = rank.shape[-1] + 1.0
  key = jnp.where(valid, (big - rank.astype(jnp.float32)) + score * 0.5, -1.0)
  _, idx = jax.lax.top_k(key.reshape(-1), size)
  return idx


def _rank_in_image(score, valid, image_idx):
  """Rank of each pool entry among the valid entries of its image (0 = best)."""
  n = score.shape[0]
  i = jnp.arange(n)
  better = (score[None, :] > score[:, None]) | ((score[None, :] == score[:, None]) & (i[None, :] < i[:, None]))
  same = image_idx[None, :] == image_idx[:, None]
  return jnp.sum(better & same & valid[None, :], axis=1)


def rnet_stage(rnet_params, norm, sizes, boxes, valid, cfg: CascadeConfig, thr):
  """P-Net candidates (B, K) -> flat pool after R-Net: (image_idx, square boxes, scores, valid)."""
  b, k = valid.shape
  rank = jnp.broadcast_to(jnp.arange(k), (b, k))  # candidates arrive sorted per image
  size = _pool_size(cfg.max_rnet, cfg.rnet_pool_per_image, b, b * k)
  idx = _round_robin_pick(jnp.zeros((b, k)), valid, rank, size)
  image_idx = (idx // k).astype(jnp.int32)
  boxes = boxes.reshape(-1, 4)[idx]
  valid = valid.reshape(-1)[idx]
  crops = resample.crop_pool_tf(norm, sizes, image_idx, boxes, 24)
  deltas, logits = nets.RNet(cfg.dtype).apply({"params": rnet_params}, crops)
  score = jax.nn.softmax(logits, -1)[:, 1]
  boxes = box_ops.regress(boxes, deltas, offset=1.0)
  valid = valid & (score > thr)
  valid = valid & box_ops.nms(boxes, score, valid, cfg.nms_rnet, "union", cfg.nms_method,
                              groups=image_idx)
  return image_idx, box_ops.square(boxes), score, valid


def onet_stage(onet_params, norm, sizes, image_idx, boxes, score, valid, cfg: CascadeConfig, thr):
  """R-Net pool -> O-Net pool: (image_idx, boxes, scores, landmarks (P, L, 2), valid)."""
  b = sizes.shape[0]
  rank = _rank_in_image(score, valid, image_idx)
  valid = valid & (rank < cfg.max_onet)
  size = _pool_size(cfg.max_onet, cfg.onet_pool_per_image, b, score.shape[0])
  idx = _round_robin_pick(score, valid, rank, size)
  image_idx, boxes, valid = image_idx[idx], boxes[idx], valid[idx]
  crops = resample.crop_pool_tf(norm, sizes, image_idx, boxes, 48)
  deltas, marks, logits = nets.ONet(cfg.dtype, cfg.num_landmarks).apply({"params": onet_params}, crops)
  score = jax.nn.softmax(logits, -1)[:, 1]
  marks = marks.reshape(-1, 2, cfg.num_landmarks)
  w = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
  h = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
  landmarks = jnp.stack([w * marks[:, 0] + boxes[:, 0, None] - 1,
                         h * marks[:, 1] + boxes[:, 1, None] - 1], -1)  # (P, 5, 2)
  boxes = box_ops.regress(boxes, deltas, offset=1.0)
  valid = valid & (score > thr)
  valid = valid & box_ops.nms(boxes, score, valid, cfg.nms_onet, "min", cfg.nms_method,
                              groups=image_idx)
  return image_idx, boxes, score, landmarks, valid


def _scatter_to_images(b: int, slots: int, image_idx, tree, score, valid):
  """Flat pool -> per-image (B, slots, ...) arrays, best score first."""
  rank = _rank_in_image(score, valid, image_idx)
  keep = valid & (rank < slots)
  row = jnp.where(keep, image_idx, b)  # out of range: dropped
  def put(x):
    out = jnp.zeros((b, slots) + x.shape[1:], x.dtype)
    return out.at[row, rank].set(x, mode="drop")
  return jax.tree_util.tree_map(put, tree), put(keep)


def lnet_stage(lnet_params, norm, sizes, image_idx, boxes, landmarks, valid, cfg: CascadeConfig):
  """MTCNN v2's fourth stage: refine each landmark from a 24x24 patch around it.

  Patch side = max box side / 4 rounded up to an even number; a predicted move
  of more than 0.35 patch from the centre is ignored (the authors' safeguard).
  Patches are sampled with the crop convention of the other stages (the
  authors resize with OpenCV; a sub-pixel difference).
  """
  p = valid.shape[0]
  side = jnp.maximum(boxes[:, 2] - boxes[:, 0] + 1, boxes[:, 3] - boxes[:, 1] + 1)
  pw = jnp.round(side * 0.25)
  pw = jnp.where(jnp.mod(pw, 2) == 1, pw + 1, pw)[:, None, None]     # (P, 1, 1)
  origin = jnp.round(landmarks - 0.5 * pw)                            # (P, 5, 2)
  pboxes = jnp.concatenate([origin, origin + pw - 1], -1).reshape(p * 5, 4)
  idx5 = jnp.repeat(image_idx, 5)
  hw = sizes[idx5].astype(jnp.float32)
  # undo crop_pool_tf's (n - 1) / n factor: L-Net patches are plain pixel boxes
  unscale = jnp.stack([hw[:, 1], hw[:, 0], hw[:, 1], hw[:, 0]], -1) / jnp.maximum(
      jnp.stack([hw[:, 1], hw[:, 0], hw[:, 1], hw[:, 0]], -1) - 1, 1)
  patches = resample.crop_pool_tf(norm, sizes, idx5, pboxes * unscale, 24).reshape(p, 5, 24, 24, 3)
  out = nets.LNet(cfg.dtype).apply({"params": lnet_params}, patches)
  out = jnp.where(jnp.abs(out - 0.5) > 0.35, 0.5, out)
  refined = origin + out * pw
  return jnp.where(valid[:, None, None], refined, landmarks)


# ---------------------------------------------------------------------------- public


@functools.partial(jax.jit, static_argnames=("cfg",))
def _detect(params, images, sizes, thresholds, cfg: CascadeConfig) -> Detections:
  return run_stages(params, normalize(images), sizes, thresholds, cfg)


def run_stages(params, norm, sizes, thresholds, cfg: CascadeConfig) -> Detections:
  """P-Net (in chunks) -> R-Net -> O-Net (-> L-Net) on normalised images, traceable.

  The body of `detect`, shared with detectors built on the cascade (QR codes);
  `thresholds[:3]` are the P, R, O thresholds, `params` may hold other entries.
  """
  b = norm.shape[0]
  boxes, valid = _pnet_chunked(params["pnet"], norm, sizes, cfg, thresholds[0])
  idx, boxes, score, valid = rnet_stage(params["rnet"], norm, sizes, boxes, valid, cfg, thresholds[1])
  idx, boxes, score, marks, valid = onet_stage(params["onet"], norm, sizes, idx, boxes, score, valid,
                                               cfg, thresholds[2])
  if cfg.use_lnet:
    marks = lnet_stage(params["lnet"], norm, sizes, idx, boxes, marks, valid, cfg)
  boxes = box_ops.clip(boxes[:, None], sizes[idx])[:, 0]
  (boxes, score, marks), valid = _scatter_to_images(b, cfg.max_faces, idx, (boxes, score, marks),
                                                    score, valid)
  return Detections(boxes, score, marks, valid)


def _pnet_chunked(pnet_params, norm, sizes, cfg: CascadeConfig, thr):
  """`pnet_stage` on `cfg.pnet_chunk` images at a time (the batch padded to whole chunks)."""
  b, c = norm.shape[0], cfg.pnet_chunk
  if c == 0 or b <= c:
    boxes, _, valid = pnet_stage(pnet_params, norm, sizes, cfg, thr)
    return boxes, valid
  pad = -b % c
  # Padding repeats the first image: any valid frame works, its outputs are dropped.
  norm_p = jnp.concatenate([norm, jnp.broadcast_to(norm[:1], (pad,) + norm.shape[1:])])
  sizes_p = jnp.concatenate([sizes, jnp.broadcast_to(sizes[:1], (pad, 2))])
  chunks = (norm_p.reshape((-1, c) + norm.shape[1:]), sizes_p.reshape(-1, c, 2))
  boxes, _, valid = jax.lax.map(lambda a: pnet_stage(pnet_params, a[0], a[1], cfg, thr), chunks)
  return boxes.reshape((-1,) + boxes.shape[2:])[:b], valid.reshape(-1, valid.shape[-1])[:b]


def detect(params, images, sizes=None, min_face_size: float = 20.0,
           thresholds: Sequence[float] = (0.6, 0.7, 0.7), scale_factor: float = 0.709,
           **options) -> Detections:
  """Detects faces and five landmarks in a batch of images (pure, jitted).

  Args:
    params: {"pnet", "rnet", "onet"[, "lnet"]} parameter trees, e.g. from
      `jaxvis.faces.load_pretrained()`.
    images: (B, H, W, 3) RGB in [0, 255] (uint8 or float); images smaller than
      the canvas sit at its top-left corner.
    sizes: (B, 2) int valid (height, width) of each image; default: the canvas.
    min_face_size: smallest face to find, in pixels (static).
    thresholds: P-, R-, O-Net face probability thresholds.
    scale_factor: pyramid step (static).
    **options: other `CascadeConfig` fields (caps, NMS thresholds and method,
      use_lnet, dtype).

  Returns:
    `Detections` with `max_faces` slots per image, best first.
  """
  images = jnp.asarray(images)
  if images.ndim != 4 or images.shape[-1] != 3:
    raise ValueError(f"images: expected (B, H, W, 3) RGB, got shape {images.shape}")
  b, h, w, _ = images.shape
  if sizes is None:
    sizes = np.tile(np.array([[h, w]], np.int32), (b, 1))
  if isinstance(sizes, (np.ndarray, list, tuple)):
    sizes = np.asarray(sizes)
    if sizes.shape != (b, 2):
      raise ValueError(f"sizes: expected ({b}, 2) (height, width), got {sizes.shape}")
    if (sizes < 1).any() or (sizes[:, 0] > h).any() or (sizes[:, 1] > w).any():
      raise ValueError(f"sizes: each (height, width) must lie in [1, {h}] x [1, {w}], got {sizes.tolist()}")
  elif getattr(sizes, "shape", None) != (b, 2):
    raise ValueError(f"sizes: expected ({b}, 2) (height, width), got {getattr(sizes, 'shape', sizes)}")
  if len(thresholds) != 3:
    raise ValueError(f"thresholds: expected 3 values (P, R, O), got {thresholds}")
  cfg = CascadeConfig(min_face_size=float(min_face_size), scale_factor=float(scale_factor), **options)
  if cfg.use_lnet and "lnet" not in params:
    raise ValueError("params: use_lnet=True needs params['lnet'] (train it with `jaxvis faces train --stage lnet`)")
  if not pyramid.pyramid_scales(h, w, cfg.min_face_size, cfg.scale_factor):
    return _empty(b, cfg.max_faces, cfg.num_landmarks)
  return _detect(params, images, jnp.asarray(sizes, jnp.int32),
                 jnp.asarray(thresholds, jnp.float32), cfg)


def _empty(b: int, f: int, num_landmarks: int = 5) -> Detections:
  return Detections(jnp.zeros((b, f, 4)), jnp.zeros((b, f)), jnp.zeros((b, f, num_landmarks, 2)),
                    jnp.zeros((b, f), bool))
