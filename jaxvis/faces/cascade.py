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

from jaxvis import compiled_programs
from jaxvis.errors import InputError
from jaxvis.faces import native_nets, nets, pyramid, resample
from jaxvis.ops import boxes as box_ops

class Detections(NamedTuple):
  """Faces per image, best first; a fixed number of slots with a validity mask.

  Attributes:
    boxes: (B, F, 4) float32 (x1, y1, x2, y2) pixels, clipped to the image.
    scores: (B, F) O-Net face probability.
    landmarks: (B, F, 5, 2) (x, y) of left eye, right eye, nose, left and right
      mouth corners (not clipped).
    valid: (B, F) bool.
    overflow: (B,) bool: a candidate cap of this image was full, so faces the
      uncapped cascade keeps may be missing (`detect` re-runs such images with
      larger caps; True only where even `max_faces_limit` did not suffice).
  """
  boxes: jax.Array
  scores: jax.Array
  landmarks: jax.Array
  valid: jax.Array
  overflow: jax.Array


@dataclasses.dataclass(frozen=True)
class CascadeConfig:
  """Static settings of the cascade (changing one recompiles).

  Every cap is per image, so an image's result never depends on its batch-mates.
  A cap that is reached sets `Detections.overflow` for that image (never silent).

  Attributes:
    min_face_size: smallest face side in pixels; the pyramid starts at 12 / it.
    scale_factor: pyramid step (paper: 0.709).
    nms_pnet_scale: IoU threshold of NMS within one pyramid level.
    nms_pnet_all: IoU threshold of NMS across levels.
    nms_rnet: IoU threshold after R-Net.
    nms_onet: threshold of the final "min"-overlap NMS after O-Net.
    nms_method: "fast" (the `mtcnn` package) or "greedy" (the authors' code).
    max_pnet: P-Net cells per image above the threshold entering the two NMS
      rounds (0: sized from the canvas, `auto_caps`).
    max_rnet: P-Net survivors per image entering R-Net (0: from the canvas).
    max_onet: R-Net survivors per image entering O-Net (0: from the canvas).
    max_faces: output slots per image (O-Net survivors).
    rnet_pool_per_image: R-Net crops evaluated per image of the batch, on
      average (0: from the canvas, = max_rnet, a pool that holds every
      candidate). The valid candidates of the whole batch are packed into one
      pool of max(min(max_rnet, 64), this * B) crops for the network only: NMS
      and ranking stay per image, and the network runs only on the crops the
      batch fills. A smaller pool bounds the program; an image whose
      candidates do not fit it is flagged as overflowing (and re-run by `detect`).
    onet_pool_per_image: the same for O-Net (0: from the canvas, = max_onet).
    use_lnet: refine landmarks with L-Net (needs params["lnet"]).
    num_landmarks: O-Net's points (5 face landmarks; 4 corners for QR codes).
    pnet_chunk: images per P-Net pass (0: from the canvas and, on accelerators, the
      device's memory: `pnet_chunk_for`). P-Net's pyramid
      activations dominate memory (~0.3 GB per 1080p frame in float32: batch 64 at
      1080p did not fit in 24 GB), so larger batches run P-Net chunk by chunk in a
      `lax.map`; R-Net and O-Net still see the whole batch's pooled candidates.
    dtype: compute dtype of the networks.
    kernels: how the pyramid and P-, R- and O-Net run: "auto" (default: the native CPU
      kernels, `pyramid.build_mosaic` and `native_nets`, on a CPU backend (the networks
      with float32 `dtype`) when they can be built here, else XLA, with a warning
      naming why), "native" (an error where they cannot run), or "xla".
  """
  min_face_size: float = 20.0
  scale_factor: float = 0.709
  nms_pnet_scale: float = 0.5
  nms_pnet_all: float = 0.7
  nms_rnet: float = 0.7
  nms_onet: float = 0.7
  nms_method: str = "fast"
  max_pnet: int = 0
  max_rnet: int = 0
  max_onet: int = 0
  max_faces: int = 16
  rnet_pool_per_image: int = 0
  onet_pool_per_image: int = 0
  use_lnet: bool = False
  num_landmarks: int = 5
  pnet_chunk: int = 0
  dtype: Any = jnp.float32
  kernels: str = "auto"

  def __post_init__(self):
    if not self.min_face_size > 0:
      raise InputError("min_face_size", f"expected > 0, got {self.min_face_size}")
    if not 0 < self.scale_factor < 1:
      raise InputError("scale_factor", f"expected in (0, 1), got {self.scale_factor}")
    if self.nms_method not in ("fast", "greedy"):
      raise InputError("nms_method", f"expected 'fast' or 'greedy', got {self.nms_method!r}")
    if self.use_lnet and self.num_landmarks != 5:
      raise InputError("use_lnet", f"L-Net refines the 5 face landmarks, got num_landmarks={self.num_landmarks}")
    for f in ("max_faces", "num_landmarks"):
      if int(getattr(self, f)) < 1:
        raise InputError(f, f"expected >= 1, got {getattr(self, f)}")
    for f in ("max_pnet", "max_rnet", "max_onet", "rnet_pool_per_image", "onet_pool_per_image"):
      if int(getattr(self, f)) < 0:
        raise InputError(f, f"expected >= 1 (or 0: sized from the canvas), got {getattr(self, f)}")
    if self.kernels not in native_nets.IMPLS:
      raise InputError("kernels", f"expected one of {native_nets.IMPLS}, got {self.kernels!r}")
    if self.kernels == "native" and jnp.dtype(self.dtype) != jnp.float32:
      raise InputError("kernels", f"the native networks compute in float32, got dtype={jnp.dtype(self.dtype)}")
    if int(self.pnet_chunk) < 0:
      raise InputError("pnet_chunk", f"expected >= 1 (or 0: sized from the canvas), got {self.pnet_chunk}")

  def resolved(self, height: int, width: int) -> "CascadeConfig":
    """The config with every 0 ("auto") cap replaced by `auto_caps` of the canvas."""
    auto = auto_caps(height, width, streamed_pnet=native_kernels(self))
    return dataclasses.replace(self, **{k: v for k, v in auto.items() if getattr(self, k) == 0})

  def grown(self, stages, factor: int = 4) -> "CascadeConfig":
    """The caps of the overflowing stages (P, R, O flags) multiplied by `factor`."""
    names = [n for flag, caps in zip(stages, _STAGE_CAPS) if flag for n in caps]
    return dataclasses.replace(self, **{k: int(getattr(self, k)) * factor for k in names})


# The caps a stage's overflow is cured by: P-Net's cells and survivors, R-Net's
# survivors (and pool), O-Net's survivors (and pool). A stage that passes on more
# candidates grows the next network's pool with it, so the larger cap does not
# overflow that pool on the re-run.
_STAGE_CAPS = (("max_pnet", "max_rnet", "rnet_pool_per_image"),
               ("max_onet", "rnet_pool_per_image", "onet_pool_per_image"),
               ("max_faces", "onet_pool_per_image"))


def _pow2_at_least(n: float) -> int:
  return 1 << max(0, math.ceil(math.log2(max(n, 1))))


def auto_caps(height: int, width: int, streamed_pnet: bool = False) -> dict:
  """Caps from the canvas area, so typical photos never fill them.

  Measured with the `mtcnn` package on real-photo frames: 100-220 P-Net cells
  above 0.6 at 640x480 (30-90 after NMS), up to ~1130 at 1920x1080 (~480 after
  NMS), and ~4950 survivors on a 4000x3000 photo; busy 1080p frames of
  `samples.frames` (seeds 1, 7, 12 of the benchmark) reach 4096-8192 cells, ~1660
  after NMS, and 30-36 R-Net survivors. Cells entering NMS: one per 384 pixels (a
  power of two, 512..32768); NMS work follows the cells actually used, not the
  cap, so a roomy cap costs little, while a re-run with larger caps (below) costs
  a second pass over the image: on those frames the 4096 / 32 caps of session 6
  made 1080p re-run 1 image in 8 (CPU 0.36 -> 0.43 frames/s at batch 1 with these).
  The networks' pools hold every candidate the caps let through (R-Net: max_rnet
  per image, O-Net: max_onet), on CPUs and accelerators alike: the networks run only
  on the crops a batch fills (`_pooled_net`), so a full-size pool costs compile time,
  not run time, while a short one re-ran busy frames. Session 12 on the H100: with the
  R-Net pool at a quarter of P-Net's survivors and 8 O-Net crops per image, 5 of 16
  busy 1080p frames re-ran and the user path made 210-261 frames/s where its first
  pass alone made 519-570. Crowds beyond the caps are flagged and re-run.
  """
  area = height * width
  cells = min(32768, max(512, _pow2_at_least(area / 384)))
  pool = min(32768, max(512, _pow2_at_least(area / 512)))
  device = jax.devices()[0]
  chunk = pnet_chunk_for(area, device.platform == "cpu", _device_bytes_limit(device), streamed_pnet)
  max_rnet, max_onet = pool // 2, max(32, pool // 64)
  return {"max_pnet": cells, "max_rnet": max_rnet, "rnet_pool_per_image": max_rnet,
          "max_onet": max_onet, "onet_pool_per_image": max_onet, "pnet_chunk": chunk}


# P-Net's pyramid activations in float32, per canvas pixel of the images in one pass.
PNET_BYTES_PER_PIXEL = 80


def pnet_chunk_for(area: int, cpu: bool, bytes_limit: int | None, streamed: bool = False) -> int:
  """Images per P-Net pass (a power of two, 1..16) for canvases of `area` pixels.

  Accelerators: 2^23 pixels a pass (~0.7 GB of activations; the H100 figures), fewer
  where that is more than a sixteenth of the device's memory (`bytes_limit`, None when
  the device does not say). CPUs with XLA's P-Net: 2^20, for speed rather than memory:
  XLA:CPU's convolutions slow down past ~1 Mpx of mosaic per call (640x480, batch 4: 11.0
  frames/s in one pass, 17.5 two frames at a time; batch 16: 9.6 -> 12.1). CPUs with the
  native P-Net (`streamed`: it holds no activation map): 2^23 as well, which is faster
  (1080p batch 4: 83.7 -> 63.6 ms a frame against one frame a pass, batch 16: 102.6 ->
  85.1; 640x480 batch 4 and 16 within the noise; session 13).
  """
  budget = 1 << 20 if cpu and not streamed else 1 << 23
  if not cpu and bytes_limit:
    budget = min(budget, bytes_limit // 16 // PNET_BYTES_PER_PIXEL)
  return max(1, min(16, 1 << max(0, int(math.log2(max(1, budget // area))))))


@functools.lru_cache(maxsize=None)
def _device_bytes_limit(device) -> int | None:
  """The memory XLA may allocate on `device`, or None where it does not report it (CPUs)."""
  return (device.memory_stats() or {}).get("bytes_limit")


def normalize(images: jax.Array) -> jax.Array:
  """uint8-range RGB -> the networks' input range, (x - 127.5) / 128."""
  return (images.astype(jnp.float32) - 127.5) / 128.0


# ----------------------------------------------------------------------------- P-Net


def _take_top(tree, scores, valid, k):
  order, valid_sorted = box_ops.sort_by_score(scores, valid, k)
  return box_ops.gather_boxes(tree, order), valid_sorted


def pnet_stage(pnet_params, norm, sizes, cfg: CascadeConfig, thr):
  """P-Net over the pyramid mosaic -> (B, max_rnet) square boxes, scores, validity, overflow (B,).

  Truncating to the best cells is exact for the cells kept (an NMS decision
  only looks at better boxes), so the stage overflows only when more cells
  pass the threshold than `max_pnet`, or more survive NMS than `max_rnet`.
  """
  cfg = cfg.resolved(*norm.shape[1:3])
  hc, wc = norm.shape[1:3]
  plan = pyramid.plan(hc, wc, cfg.min_face_size, cfg.scale_factor)
  if not plan.levels:
    raise InputError("images", f"canvas {hc}x{wc} is too small for min_face_size="
                               f"{cfg.min_face_size} (P-Net needs 12 px at the first scale)")
  lsizes = pyramid.level_sizes(plan, sizes)                       # (B, L, 2)
  mosaic = pyramid.build_mosaic(plan, norm, sizes, lsizes, impl=cfg.kernels)
  deltas, logits = _pnet_banded(pnet_params, mosaic, pyramid.conv1_mask(plan, lsizes), cfg.dtype,
                                native_kernels(cfg))
  b, gh, gw, _ = deltas.shape
  prob = jax.nn.softmax(logits.astype(jnp.float32), axis=-1)[..., 1].reshape(b, -1)
  level, ly, lx = pyramid.cell_tables(plan, gh, gw)
  lv = jnp.maximum(level, 0)
  cells = pyramid.pnet_cells(lsizes)                              # (B, L, 2)
  level_ok = jnp.minimum(lsizes[..., 0], lsizes[..., 1]) >= pyramid.PNET_CELL
  ok = ((level >= 0)[None] & level_ok[:, lv] & (ly[None] < cells[:, lv, 0])
        & (lx[None] < cells[:, lv, 1]) & (prob > thr))
  k = min(prob.shape[1], cfg.max_pnet)
  overflow = jnp.sum(ok, axis=1) > k
  order, valid = box_ops.sort_by_score(prob, ok, k)
  score = jnp.take_along_axis(prob, order, axis=1)
  d = jnp.take_along_axis(deltas.reshape(b, -1, 4).astype(jnp.float32), order[..., None], axis=1)
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
  keep = min(k, cfg.max_rnet)
  overflow = overflow | (jnp.sum(valid, axis=1) > keep)
  (boxes, score), valid = _take_top((boxes, score), score, valid, keep)
  return box_ops.square(boxes), score, valid, overflow


# A mosaic over this many pixels runs P-Net in horizontal bands of about half as many
# (lax.fori_loop): XLA:CPU's convolutions take working memory proportional to their
# input (a 4000x3000 photo's 11 Mpx mosaic in one pass: ~1.5 GB beyond the XLA
# temporaries). 1080p (1.5 Mpx) still runs in one pass.
PNET_BAND_PIXELS = 1 << 22


def _pnet_banded(pnet_params, mosaic, mask, dtype, native: bool = False):
  """P-Net over the mosaic, in bands of output rows when it is large; exact either way.

  `native` (`native_kernels` of the config): the native kernel in one call, which streams its
  own bands and holds no activation map.

  A band of G output rows reads input rows [2r, 2r + 2G + 10) (12-row window,
  stride 2); bands start at even rows so the 2x2 pool sees the same pairs, and
  the mosaic is padded with masked rows (-inf in the pool, as SAME padding).
  """
  if native:
    return native_nets.pnet(pnet_params, mosaic, mask)
  net = nets.PNet(dtype)
  apply = lambda x, m: net.apply({"params": pnet_params}, x, conv1_mask=m)
  b, h, w, _ = mosaic.shape
  if h * w <= PNET_BAND_PIXELS:
    return apply(mosaic, mask)
  gh, gw = pyramid.pnet_cells(h), pyramid.pnet_cells(w)
  g = max(8, PNET_BAND_PIXELS // 2 // (2 * w))
  nb = -(-gh // g)
  hp = 2 * g * nb + 10
  mosaic = jnp.pad(mosaic, [(0, 0), (0, hp - h), (0, 0), (0, 0)])
  mask = jnp.pad(mask, [(0, 0), (0, hp - 2 - mask.shape[1]), (0, 0)])

  def body(i, acc):
    r = i * g
    d, l = apply(jax.lax.dynamic_slice_in_dim(mosaic, 2 * r, 2 * g + 10, axis=1),
                 jax.lax.dynamic_slice_in_dim(mask, 2 * r, 2 * g + 8, axis=1))
    return (jax.lax.dynamic_update_slice_in_dim(acc[0], d, r, axis=1),
            jax.lax.dynamic_update_slice_in_dim(acc[1], l, r, axis=1))

  init = (jnp.zeros((b, nb * g, gw, 4), jnp.float32), jnp.zeros((b, nb * g, gw, 2), jnp.float32))
  deltas, logits = jax.lax.fori_loop(0, nb, body, init)
  return deltas[:, :gh], logits[:, :gh]


# ----------------------------------------------------------------------- R-Net, O-Net
#
# Candidates stay in a per-image (B, K) layout: NMS, ranking and the caps are per
# image, so memory is linear in the batch and no image depends on another. Only
# the network evaluation is pooled: the valid candidates of the whole batch are
# packed (in image order) into one fixed pool of crops, which costs the
# batch's real candidate count rather than K per image; an image whose
# candidates fall beyond the pool is flagged as overflowing.


# Pools over this many crops run the network chunk by chunk (8192 R-Net crops at once:
# ~0.9 GB of activations).
POOL_CHUNK = 1024


def _pool_size(cap: int, per_image: int, batch: int) -> int:
  # at least min(cap, 64) crops: a lone image gets up to 64 without a re-run
  return max(1, min(cap * batch, max(min(cap, 64), per_image * batch)))


def _pack(valid, size: int):
  """Packs the valid entries of (B, K) into `size` pool slots, in order.

  Returns:
    src (size,) flat index of each pool slot, used (size,) bool,
    fits (B, K) valid entries that got a slot.
  """
  flat = valid.reshape(-1)
  pos = jnp.cumsum(flat.astype(jnp.int32)) - 1
  fits = flat & (pos < size)
  src = jnp.zeros(size, jnp.int32).at[jnp.where(fits, pos, size)].set(
      jnp.arange(flat.shape[0], dtype=jnp.int32), mode="drop")
  used = jnp.arange(size) < jnp.sum(fits)
  return src, used, fits.reshape(valid.shape)


def _unpack(x, src, used, n: int):
  """Pool rows (size, ...) back to their flat (n, ...) positions (zeros elsewhere)."""
  out = jnp.zeros((n,) + x.shape[1:], x.dtype)
  return out.at[jnp.where(used, src, n)].set(x, mode="drop")


# Crops per step of the "loop" pool (CPU default), about equal work a step: an O-Net crop costs
# ~8 R-Net crops. Measured at 640x480 (144 P-Net survivors, 5 R-Net survivors): R-Net
# 34 -> 25 ms as 3 steps of 64 instead of the 256-crop branch; O-Net 16 crops a step
# cost 12 ms where the 8-crop branch took 5.
RNET_POOL_STEP = 64
ONET_POOL_STEP = 8

# The smallest pool a lax.switch branch evaluates: pools are tried at size, size / 2,
# size / 4 ... down to this, and the smallest that holds the batch's candidates runs.
MIN_POOL_BRANCH = 8


def _pool_branches(size: int) -> list[int]:
  """Pool sizes for `_pooled_net`'s switch, smallest first: size / 2^k down to MIN_POOL_BRANCH
  (pools over POOL_CHUNK run in whole chunks, so those must be multiples of it)."""
  sizes = [size]
  while (n := sizes[-1] // 2) >= MIN_POOL_BRANCH:
    if n > POOL_CHUNK:
      n += -n % POOL_CHUNK
      if n >= sizes[-1]:
        n = POOL_CHUNK
    sizes.append(n)
  return sizes[::-1]


def _pooled_net(apply, norm, sizes, boxes, valid, crop: int, per_image: int, step: int = RNET_POOL_STEP,
                pool_mode: str = "auto"):
  """Runs `apply(crops)` on the valid boxes of (B, K, 4), pooled; outputs in (B, K, ...) layout.

  Candidates arrive best first in each row, so packing the (K, B) transpose
  fills the pool round robin (every image's best, then every image's 2nd...):
  when the pool is short, the images with most candidates lose their worst.
  The pool is static, but the network only runs on as many crops as needed
  (a 640x480 frame sends ~30-150 of its 256 R-Net slots and ~5 of its 32 O-Net
  slots), so its cost follows the candidates: `pool_mode` "switch" picks, by
  `lax.switch`, the smallest of the pool sizes (size, size / 2, ...) that holds
  them (one launch); "loop" runs the network on `step` crops at a time for as
  many steps as the candidates fill (a `while` loop: less than a step wasted
  where the switch wastes up to half the branch; ~6% faster at 640x480 batch 1
  on a CPU); "auto" (default) picks "loop" on a CPU backend, "switch" elsewhere.
  """
  b, k = valid.shape
  size = _pool_size(k, per_image, b)
  size += -size % POOL_CHUNK if size > POOL_CHUNK else 0
  flat_boxes = boxes.transpose(1, 0, 2).reshape(-1, 4)
  if pool_mode == "auto":
    pool_mode = "loop" if jax.default_backend() == "cpu" else "switch"
  run = lambda s: apply(resample.crop_pool_tf(norm, sizes, s % b, flat_boxes[s], crop))

  if pool_mode == "loop":
    outs, fits = _pool_loop(run, valid, size + -size % step, step)
  elif pool_mode == "switch":
    outs, fits = _pool_switch(run, valid, size)
  else:
    raise InputError("pool_mode", f"expected 'auto', 'loop' or 'switch', got {pool_mode!r}")
  outs = tuple(o.reshape((k, b) + o.shape[1:]).swapaxes(0, 1) for o in outs)
  fits = fits.T
  return outs, fits, (valid & ~fits).any(axis=1)


def _pool_loop(run, valid, size: int, step: int):
  """`run` on `step` packed crops at a time, for as many steps as there are candidates.

  Returns outputs in the flat (K * B) order of `valid.T` and the (K, B) fits."""
  n = valid.size
  src, used, fits = _pack(valid.T, size)
  steps = src.reshape(-1, step)
  init = tuple(jnp.zeros((steps.shape[0],) + o.shape, o.dtype) for o in jax.eval_shape(run, steps[0]))
  body = lambda i, acc: tuple(a.at[i].set(o) for a, o in zip(acc, run(steps[i])))
  n_steps = (jnp.sum(used) + step - 1) // step                # slots past the candidates stay 0
  outs = jax.lax.fori_loop(0, n_steps, body, init)
  return tuple(_unpack(o.reshape((size,) + o.shape[2:]), src, used, n) for o in outs), fits


def _pool_switch(run, valid, size: int):
  """`run` on the smallest `_pool_branches(size)` pool that holds the candidates (`lax.switch`)."""
  n = valid.size

  def run_pool(m):
    src, used, fits = _pack(valid.T, m)
    if m > POOL_CHUNK:  # crops and activations one chunk at a time: memory bounded by the chunk
      outs = jax.lax.map(run, src.reshape(-1, POOL_CHUNK))
      outs = tuple(o.reshape((m,) + o.shape[2:]) for o in outs)
    else:
      outs = run(src)
    return tuple(_unpack(o, src, used, n) for o in outs), fits

  branches = _pool_branches(size)
  if len(branches) == 1:
    return run_pool(size)
  count = jnp.sum(valid)
  pick = jnp.sum(count > jnp.asarray(branches[:-1]))  # the first branch that holds them all
  return jax.lax.switch(pick, [functools.partial(run_pool, m) for m in branches])


def _keep_best(tree, score, valid, cap: int):
  """Top `cap` valid entries per image, and whether more were valid."""
  k = min(cap, score.shape[1])
  overflow = jnp.sum(valid, axis=1) > k
  (tree, score), valid = _take_top((tree, score), score, valid, k)
  return tree, score, valid, overflow


def native_kernels(cfg: CascadeConfig) -> bool:
  """Whether P-, R- and O-Net run as the native CPU kernels (`native_nets`) for `cfg`."""
  return jnp.dtype(cfg.dtype) == jnp.float32 and native_nets.use_native(cfg.kernels)


def rnet_stage(rnet_params, norm, sizes, boxes, valid, cfg: CascadeConfig, thr):
  """P-Net candidates (B, K) -> (B, max_onet) square boxes, scores, validity, overflow (B,)."""
  cfg = cfg.resolved(*norm.shape[1:3])
  if native_kernels(cfg):
    apply = lambda c: native_nets.rnet(rnet_params, c)
  else:
    apply = lambda c: nets.RNet(cfg.dtype).apply({"params": rnet_params}, c)
  (deltas, logits), valid, lost = _pooled_net(apply, norm, sizes, boxes, valid, 24,
                                              cfg.rnet_pool_per_image)
  score = jax.nn.softmax(logits.astype(jnp.float32), -1)[..., 1]
  boxes = box_ops.regress(boxes, deltas.astype(jnp.float32), offset=1.0)
  valid = valid & (score > thr)
  valid = valid & box_ops.nms(boxes, score, valid, cfg.nms_rnet, "union", cfg.nms_method)
  boxes, score, valid, overflow = _keep_best(boxes, score, valid, cfg.max_onet)
  return box_ops.square(boxes), score, valid, overflow | lost


def onet_stage(onet_params, norm, sizes, boxes, valid, cfg: CascadeConfig, thr):
  """R-Net survivors (B, K) -> (B, max_faces) boxes, scores, landmarks (B, F, L, 2), validity, overflow."""
  cfg = cfg.resolved(*norm.shape[1:3])
  if native_kernels(cfg):
    apply = lambda c: native_nets.onet(onet_params, c)
  else:
    apply = lambda c: nets.ONet(cfg.dtype, cfg.num_landmarks).apply({"params": onet_params}, c)
  (deltas, marks, logits), valid, lost = _pooled_net(apply, norm, sizes, boxes, valid, 48,
                                                     cfg.onet_pool_per_image, ONET_POOL_STEP)
  score = jax.nn.softmax(logits.astype(jnp.float32), -1)[..., 1]
  marks = marks.astype(jnp.float32).reshape(marks.shape[:2] + (2, cfg.num_landmarks))
  w = (boxes[..., 2] - boxes[..., 0] + 1)[..., None]
  h = (boxes[..., 3] - boxes[..., 1] + 1)[..., None]
  landmarks = jnp.stack([w * marks[..., 0, :] + boxes[..., 0, None] - 1,
                         h * marks[..., 1, :] + boxes[..., 1, None] - 1], -1)  # (B, K, L, 2)
  boxes = box_ops.regress(boxes, deltas.astype(jnp.float32), offset=1.0)
  valid = valid & (score > thr)
  valid = valid & box_ops.nms(boxes, score, valid, cfg.nms_onet, "min", cfg.nms_method)
  (boxes, landmarks), score, valid, overflow = _keep_best((boxes, landmarks), score, valid,
                                                          cfg.max_faces)
  return boxes, score, landmarks, valid, overflow | lost


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
def _detect(params, images, sizes, thresholds, cfg: CascadeConfig):
  """(Detections, (B, 3) overflow flags of the P, R and O stages).

  `sizes` None: every image fills the canvas, and the sizes are compile-time
  constants: the pyramid's sample positions, masks and cell tables fold away
  (640x480 batch 1: 67 -> 58 ms on a 2-core CPU, session 8).
  """
  if sizes is None:
    b, h, w, _ = images.shape
    sizes = jnp.tile(jnp.array([[h, w]], jnp.int32), (b, 1))
  return cascade_stages(params, normalize(images), sizes, thresholds, cfg, stage_flags=True)


def cascade_stages(params, norm, sizes, thresholds, cfg: CascadeConfig, stage_flags: bool = False):
  """P-Net (in chunks) -> R-Net -> O-Net (-> L-Net) on normalised images, traceable.

  The body of `detect` (one program, fixed caps; overflowing images are flagged,
  not re-run), shared with detectors built on the cascade (QR codes);
  `thresholds[:3]` are the P, R, O thresholds, `params` may hold other entries.
  """
  cfg = cfg.resolved(*norm.shape[1:3])
  b = norm.shape[0]
  boxes, valid, over_p = _pnet_chunked(params["pnet"], norm, sizes, cfg, thresholds[0])
  boxes, score, valid, over_r = rnet_stage(params["rnet"], norm, sizes, boxes, valid, cfg, thresholds[1])
  boxes, score, marks, valid, over_o = onet_stage(params["onet"], norm, sizes, boxes, valid, cfg,
                                                  thresholds[2])
  f = valid.shape[1]
  if cfg.use_lnet:
    idx = jnp.repeat(jnp.arange(b), f)
    flat = lnet_stage(params["lnet"], norm, sizes, idx, boxes.reshape(-1, 4),
                      marks.reshape((b * f,) + marks.shape[2:]), valid.reshape(-1), cfg)
    marks = flat.reshape(marks.shape)
  boxes = box_ops.clip(boxes, sizes)
  if f < cfg.max_faces:  # fewer candidates than slots: pad to the promised shape
    pad = lambda x: jnp.pad(x, [(0, 0), (0, cfg.max_faces - f)] + [(0, 0)] * (x.ndim - 2))
    boxes, score, marks, valid = pad(boxes), pad(score), pad(marks), pad(valid)
  score = jnp.where(valid, score, 0.0)
  det = Detections(boxes, score, marks, valid, over_p | over_r | over_o)
  return (det, jnp.stack([over_p, over_r, over_o], -1)) if stage_flags else det


def run_stages(params, norm, sizes, thresholds, cfg: CascadeConfig):
  """`cascade_stages` as the 4-tuple (boxes, scores, landmarks, valid) (no overflow flag)."""
  return tuple(cascade_stages(params, norm, sizes, thresholds, cfg)[:4])


def _pnet_chunked(pnet_params, norm, sizes, cfg: CascadeConfig, thr):
  """`pnet_stage` on `cfg.pnet_chunk` images at a time -> (boxes, valid, overflow)."""
  b, c = norm.shape[0], cfg.pnet_chunk
  if c == 0 or b <= c:
    boxes, _, valid, over = pnet_stage(pnet_params, norm, sizes, cfg, thr)
    return boxes, valid, over
  pad = -b % c
  # Padding repeats the first image: any valid frame works, its outputs are dropped.
  norm_p = jnp.concatenate([norm, jnp.broadcast_to(norm[:1], (pad,) + norm.shape[1:])])
  sizes_p = jnp.concatenate([sizes, jnp.broadcast_to(sizes[:1], (pad, 2))])
  chunks = (norm_p.reshape((-1, c) + norm.shape[1:]), sizes_p.reshape(-1, c, 2))
  boxes, _, valid, over = jax.lax.map(lambda a: pnet_stage(pnet_params, a[0], a[1], cfg, thr), chunks)
  flat = lambda x: x.reshape((-1,) + x.shape[2:])[:b]
  return flat(boxes), flat(valid), flat(over)


def detect(params, images, sizes=None, min_face_size: float = 20.0,
           thresholds: Sequence[float] = (0.6, 0.7, 0.7), scale_factor: float = 0.709,
           grow: bool = True, max_faces_limit: int = 4096, **options) -> Detections:
  """Detects faces and five landmarks in a batch of images (jitted, exact at any crowd size).

  One compiled program runs the batch with per-image caps. Images that filled
  a cap (`Detections.overflow`) are run again, alone in their own (power-of-two)
  batch, with every cap x4 until nothing overflows or `max_faces` would pass
  `max_faces_limit`; the result then has as many slots as the largest run.

  Args:
    params: {"pnet", "rnet", "onet"[, "lnet"]} parameter trees, e.g. from
      `jaxvis.faces.load_pretrained()`.
    images: (B, H, W, 3) RGB in [0, 255] (uint8 or float); images smaller than
      the canvas sit at its top-left corner.
    sizes: (B, 2) int valid (height, width) of each image; default: the canvas.
    min_face_size: smallest face to find, in pixels (static).
    thresholds: P-, R-, O-Net face probability thresholds.
    scale_factor: pyramid step (static).
    grow: re-run overflowing images with larger caps (False: one program,
      fixed output shape, `overflow` tells which images were capped).
    max_faces_limit: the largest `max_faces` a re-run may reach.
    **options: other `CascadeConfig` fields (caps, NMS thresholds and method,
      use_lnet, dtype).

  Returns:
    `Detections` with at least `max_faces` slots per image, best first.
  """
  images = jnp.asarray(images)
  if images.ndim != 4 or images.shape[-1] != 3:
    raise InputError("images", f"expected (B, H, W, 3) RGB, got shape {images.shape}")
  b, h, w, _ = images.shape
  if sizes is None:
    pass                         # every image fills the canvas
  elif isinstance(sizes, (np.ndarray, list, tuple)):
    sizes = np.asarray(sizes)
    if sizes.shape != (b, 2):
      raise InputError("sizes", f"expected ({b}, 2) (height, width), got {sizes.shape}")
    if (sizes < 1).any() or (sizes[:, 0] > h).any() or (sizes[:, 1] > w).any():
      raise InputError("sizes", f"each (height, width) must lie in [1, {h}] x [1, {w}], got {sizes.tolist()}")
  elif getattr(sizes, "shape", None) != (b, 2):
    raise InputError("sizes", f"expected ({b}, 2) (height, width), got {getattr(sizes, 'shape', sizes)}")
  if len(thresholds) != 3:
    raise InputError("thresholds", f"expected 3 values (P, R, O), got {thresholds}")
  cfg = CascadeConfig(min_face_size=float(min_face_size), scale_factor=float(scale_factor), **options)
  if cfg.use_lnet and "lnet" not in params:
    raise InputError("params", "use_lnet=True needs params['lnet'] (train it with `jaxvis faces train --stage lnet`)")
  if max_faces_limit < cfg.max_faces:
    raise InputError("max_faces_limit", f"expected >= max_faces ({cfg.max_faces}), got {max_faces_limit}")
  if not pyramid.pyramid_scales(h, w, cfg.min_face_size, cfg.scale_factor):
    return _empty(b, cfg.max_faces, cfg.num_landmarks)
  cfg = cfg.resolved(h, w)
  if isinstance(sizes, np.ndarray) and (sizes == [h, w]).all():
    sizes = None                 # every image fills the canvas: sizes become constants
  sizes = None if sizes is None else jnp.asarray(sizes, jnp.int32)
  thr = jnp.asarray(thresholds, jnp.float32)
  compiled_programs.release_if_crowded()  # a program per canvas size: stay under the mapping limit
  det, stages = _detect(params, images, sizes, thr, cfg)
  if not grow:
    return det
  return _grow(params, images, sizes, thr, cfg, det, stages, max_faces_limit)


def _grow(params, images, sizes, thr, cfg: CascadeConfig, det: Detections, stages, limit: int) -> Detections:
  """Re-runs the overflowing images of `det` with larger caps (`grow_overflowing`)."""
  run = lambda pick, grown: _detect(params, images[pick], None if sizes is None else sizes[pick], thr, grown)
  return grow_overflowing(run, det, stages, cfg, limit, overflow_index=4)


def grow_overflowing(run, det, stages, cfg: CascadeConfig, limit: int, overflow_index: int):
  """Re-runs the overflowing images of `det`, the full stages' caps x4, until none overflows.

  Shared by the face and QR-code detectors. `run(pick, cfg)` runs the images at
  indices `pick` (padded to a power of two with a repeat) under `cfg` and returns
  (detections, (len(pick), 3) P/R/O overflow flags); `det` is a tuple of (B, F, ...)
  fields whose `overflow_index`-th is the (B,) overflow flag. Stops growing
  `max_faces` at `limit` (those images keep overflow=True) and P-Net's caps at 4x
  the largest auto cap. The result has as many slots as the largest run.
  """
  stages = np.array(stages)  # writable copy
  todo = np.flatnonzero(stages.any(1))
  if not todo.size:
    return det
  out = [np.array(x) for x in det]
  while todo.size:
    need = stages[todo].any(0)
    if need[2] and cfg.max_faces * 4 > limit:
      need[2] = False
    if need[0] and cfg.max_pnet * 4 > _MAX_PNET_GROWN:
      need[0] = False
    if not need.any():
      break
    cfg = cfg.grown(need)
    n = _pow2_at_least(todo.size)
    pick = np.concatenate([todo, np.full(n - todo.size, todo[0])])  # pad with a repeat
    sub_det, sub_stages = run(pick, cfg)
    sub = [np.asarray(x)[:todo.size] for x in sub_det]
    f = max(out[0].shape[1], sub[0].shape[1])
    out = [x if k == overflow_index else pad_slots(x, f) for k, x in enumerate(out)]
    for k, x in enumerate(sub):
      out[k][todo] = x if k == overflow_index else pad_slots(x, f)
    stages[todo] = np.asarray(sub_stages)[:todo.size]
    todo = todo[sub[overflow_index]]
  return type(det)(*(jnp.asarray(x) for x in out))


_MAX_PNET_GROWN = 4 * 32768


def pad_slots(x: np.ndarray, f: int) -> np.ndarray:
  """Pads the slot axis (1) of a (B, F, ...) detection field with zeros up to `f` >= F."""
  return np.pad(x, [(0, 0), (0, f - x.shape[1])] + [(0, 0)] * (x.ndim - 2))


def _empty(b: int, f: int, num_landmarks: int = 5) -> Detections:
  return Detections(jnp.zeros((b, f, 4)), jnp.zeros((b, f)), jnp.zeros((b, f, num_landmarks, 2)),
                    jnp.zeros((b, f), bool), jnp.zeros((b,), bool))
