"""The image pyramid of P-Net packed into one mosaic, so P-Net runs once per batch.

All levels of the pyramid are area-resampled (TensorFlow `ResizeArea` rule, as
the `mtcnn` package) and packed side by side into one canvas (shelf packing, at
even offsets so P-Net's stride-2 grid lines up with every level). P-Net then
runs once over the mosaic; its first max-pool is masked so that no cell sees
another level or another image's padding, which makes every valid output cell
identical to running P-Net on that level alone. One P-Net call, one top-k and
one NMS replace a loop over ~10 levels: far less to compile and to launch.

On CPU backends the mosaic is built by a native kernel behind XLA's FFI
(`jaxvis/native/area_mosaic.cc`): ~11 ms a 1080p frame at batch 4 on the 2-core
development CPU, where XLA's form below (cumulative sums and gathers) took ~95 ms.
Both give the same values to float rounding (the kernel within ~1e-6 of a float64
reference; XLA's cumulative sums drift up to ~2e-4 across a 1920-pixel row).
`build_mosaic(impl=...)` chooses; other backends, and CPUs without a C++ compiler,
run the XLA form.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxvis import native
from jaxvis.errors import InputError

PNET_CELL = 12
PNET_STRIDE = 2


@dataclasses.dataclass(frozen=True)
class Level:
  """One pyramid level: its scale, canvas-level size and offset in the mosaic."""
  scale: float
  height: int
  width: int
  top: int
  left: int


@dataclasses.dataclass(frozen=True)
class PyramidPlan:
  levels: tuple[Level, ...]
  height: int  # mosaic
  width: int
  canvas_height: int
  canvas_width: int


def pyramid_scales(height: int, width: int, min_face_size: float, scale_factor: float) -> list[float]:
  """Scales 12/min_face_size * f^k for every k with floor(short side * scale) >= 12 (the paper's rule)."""
  s = PNET_CELL / float(min_face_size)
  scales = []
  while math.floor(min(height, width) * s) >= PNET_CELL:
    scales.append(s)
    s *= scale_factor
  return scales


def _even(n: int) -> int:
  return n + (n % 2)


@functools.lru_cache(maxsize=64)
def plan(height: int, width: int, min_face_size: float, scale_factor: float) -> PyramidPlan:
  """Packs the pyramid levels of a (height, width) canvas into one mosaic (skyline packing).

  Each level goes, largest first, to the lowest (then leftmost) place where its
  even-rounded footprint fits under a fixed mosaic width; of the widths tried (the
  first level's, and the first two side by side) the smaller mosaic wins. Levels may
  touch: P-Net's masked first pool keeps each level's cells its own. ~90% of the
  mosaic is image (shelves of levels: 78%), and P-Net's cost follows the mosaic.
  """
  scales = pyramid_scales(height, width, min_face_size, scale_factor)
  if not scales:
    return PyramidPlan((), 0, 0, height, width)
  sizes = [(math.floor(height * s), math.floor(width * s)) for s in scales]
  widths = {_even(sizes[0][1])} | ({_even(sizes[0][1]) + _even(sizes[1][1])} if len(sizes) > 1 else set())
  best = None
  for limit in sorted(widths):
    places = _skyline(sizes, limit)
    total_h = max(t + h for (t, _), (h, _) in zip(places, sizes))
    total_w = max(l + w for (_, l), (_, w) in zip(places, sizes))
    if best is None or total_h * total_w < best[0]:
      best = (total_h * total_w, places, total_h, total_w)
  _, places, total_h, total_w = best
  levels = tuple(Level(s, h, w, t, l) for s, (h, w), (t, l) in zip(scales, sizes, places))
  return PyramidPlan(levels, total_h, total_w, height, width)


def _skyline(sizes, limit: int) -> list[tuple[int, int]]:
  """(top, left) of each (h, w) rectangle, bottom-left skyline packing in `limit` columns
  (even coordinates, footprints rounded up to even sizes)."""
  sky = [(0, limit, 0)]                    # (left, width, height of the skyline there)
  places = []
  for h, w in sizes:
    fh, fw = _even(h), _even(w)
    best = None
    for i, (x, _, _) in enumerate(sky):
      if x + fw > limit:
        break
      top, j, covered = 0, i, 0
      while covered < fw:                  # the segments under [x, x + fw)
        top = max(top, sky[j][2])
        covered += sky[j][1]
        j += 1
      if best is None or (top, x) < best:
        best = (top, x)
    top, x = best
    places.append((top, x))
    # raise the skyline over [x, x + fw) to top + fh, keeping what lies outside it
    new = []
    for sx, sw, sh in sky:
      for a, b in ((sx, min(sx + sw, x)), (max(sx, x + fw), sx + sw)):
        if b > a:
          new.append((a, b - a, sh))
    new.append((x, fw, top + fh))
    new.sort()
    sky = []
    for seg in new:                        # merge neighbours of equal height
      if sky and sky[-1][2] == seg[2] and sky[-1][0] + sky[-1][1] == seg[0]:
        sky[-1] = (sky[-1][0], sky[-1][1] + seg[1], seg[2])
      else:
        sky.append(seg)
  return places


def level_sizes(p: PyramidPlan, sizes: jax.Array) -> jax.Array:
  """(B, L, 2) size of each image at each level.

  floor(size * scale) is tabulated on the host in float64, exactly as the
  reference computes it (float32 could round across an integer).
  """
  tab_h = np.stack([np.floor(np.arange(p.canvas_height + 1) * l.scale) for l in p.levels])
  tab_w = np.stack([np.floor(np.arange(p.canvas_width + 1) * l.scale) for l in p.levels])
  oh = jnp.asarray(tab_h.astype(np.int32))[:, sizes[:, 0]].T
  ow = jnp.asarray(tab_w.astype(np.int32))[:, sizes[:, 1]].T
  return jnp.stack([oh, ow], -1)


def _box_filter(x, csum, lo, hi, scale, axis: int):
  """One image's area filter along `axis`: (F(hi) - F(lo)) / scale per output index.

  x: (n, ...) or (..., n, ...) along axis, csum its exclusive cumulative sum,
  lo, hi, scale: (m,). Plain 1-D index takes (no broadcast index arrays the
  size of the output, which cost ~4x its memory for a 4000x3000 photo).
  """
  n = x.shape[axis]
  def integral(pos):
    i = jnp.clip(jnp.floor(pos), 0, n).astype(jnp.int32)
    frac = (pos - i.astype(pos.dtype)).reshape((-1,) + (1,) * (x.ndim - axis - 1))
    return jnp.take(csum, i, axis=axis) + frac * jnp.take(x, jnp.minimum(i, n - 1), axis=axis)
  return (integral(hi) - integral(lo)) / scale.reshape((-1,) + (1,) * (x.ndim - axis - 1))


def _exclusive_cumsum(x, axis: int, fast: bool = True):
  """(..., n, ...) -> (..., n + 1, ...) running sums along `axis`, starting at 0.

  `fast`: on a CPU backend as block matrix products (`_inclusive_cumsum`), elsewhere as
  an associative scan (the form the H100 figures were measured with); else jnp.cumsum,
  which XLA:CPU lowers to chained reduce-windows: slower, but with fewer temporaries
  (the large-image path; a 4000x3000 photo peaked at 1.80 GB this way).
  """
  shape = x.shape
  if fast and jax.default_backend() == "cpu":
    flat = x.reshape(math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:]))
    y = _inclusive_cumsum(flat).reshape(shape)
  elif fast:
    y = jax.lax.associative_scan(jnp.add, x, axis=axis)
  else:
    y = jnp.cumsum(x, axis=axis)
  pad = [(0, 0)] * x.ndim
  pad[axis] = (1, 0)
  return jnp.pad(y, pad)


# Block sides of `_inclusive_cumsum`: rows of long vectors (a whole image row) take
# 32 per block, interleaved short vectors (a row's 3 channels) 8.
CUMSUM_BLOCK = 32
CUMSUM_BLOCK_SHORT = 8


def _inclusive_cumsum(x):
  """Running sums of (pre, n, post) along axis 1, as matrix products (exact to float32 rounding).

  Axis 1 is cut into blocks; one product with a lower-triangular matrix sums within
  every block, and the blocks' totals (summed the same way, recursively) are added to
  the blocks after them. XLA:CPU runs these products as a few large matrix
  multiplications, where jax.lax.associative_scan (still used on other backends)
  makes one small strided fusion per step and level: the cascade at 1920x1080,
  batch 4, went from ~400 to ~270 ms a frame with this form (session 10). Long
  vectors (post >= 16) multiply each block by the (b, b) triangle in place; short
  ones (a row's channels) flatten each block to b * post values and multiply by
  the triangle's Kronecker product with the (post, post) identity, so no
  transpose is needed either way.
  """
  pre, n, post = x.shape
  long_rows = post >= 16
  blk = min(CUMSUM_BLOCK if long_rows else CUMSUM_BLOCK_SHORT, n)
  nb = -(-n // blk)
  x = jnp.pad(x, [(0, 0), (0, nb * blk - n), (0, 0)])
  tri = np.tril(np.ones((blk, blk), np.float32))                  # [i, j] = 1 where j <= i
  if long_rows:
    tri = jnp.broadcast_to(jnp.asarray(tri), (pre * nb, blk, blk))
    y = jax.lax.dot_general(tri, x.reshape(pre * nb, blk, post), (((2,), (1,)), ((0,), (0,))),
                            precision=jax.lax.Precision.HIGHEST)
  else:
    kron = np.kron(tri, np.eye(post, dtype=np.float32))          # [(i, c), (j, c')]
    y = jnp.dot(x.reshape(pre * nb, blk * post), jnp.asarray(kron.T), precision=jax.lax.Precision.HIGHEST)
  y = y.reshape(pre, nb, blk, post)
  if nb > 1:
    totals = y[:, :, -1, :]                                       # (pre, nb, post)
    y = y + (_inclusive_cumsum(totals) - totals)[:, :, None, :]
  return y.reshape(pre, nb * blk, post)[:, :n]


def _area_positions(in_len, out_len, out_idx):
  """TF ResizeArea spans [o * s, (o + 1) * s) with s = in / out, clamped to the input."""
  scale = in_len.astype(jnp.float32) / jnp.maximum(out_len, 1).astype(jnp.float32)
  o = out_idx.astype(jnp.float32)
  lo = jnp.minimum(o * scale, in_len)
  hi = jnp.minimum((o + 1.0) * scale, in_len)
  return lo, hi, scale


MOSAIC_KERNEL = ("area_mosaic", ("AreaMosaic",))


def build_mosaic(p: PyramidPlan, images: jax.Array, sizes: jax.Array, lsizes: jax.Array,
                 *, impl: str = "auto"):
  """Area-resamples every level of every image into the mosaic.

  The XLA form computes the box filter of TF's ResizeArea from integral images
  (two samples of a cumulative sum per output pixel and axis), so all levels share
  one gather per axis whatever their scale; the native kernel sums each output's
  few input rows and columns directly.

  Args:
    p: the plan of the canvas.
    images: (B, H, W, C) normalised canvas.
    sizes: (B, 2) valid (height, width).
    lsizes: (B, L, 2) from `level_sizes`.
    impl: "auto" (the native kernel on a CPU backend where it builds, else the XLA form,
      with a warning on CPUs), "native" (the kernel, or InputError), or "xla".

  Returns:
    (B, p.height, p.width, C) mosaic, zeros outside each image's levels.
  """
  if impl not in native.IMPLS:
    raise InputError("impl", f"expected one of {native.IMPLS}, got {impl!r}")
  if native.use(impl, "pyramid.build_mosaic", lambda: native.available_on_cpu(dict([MOSAIC_KERNEL])),
                lambda why: InputError("impl", f"'native' mosaic unavailable: {why}")):
    return _mosaic_native(p, images, sizes, lsizes)
  return _mosaic_xla(p, images, sizes, lsizes)


def _mosaic_native(p: PyramidPlan, images, sizes, lsizes):
  """The mosaic from the native kernel (`jaxvis/native/area_mosaic.cc`)."""
  b, _, _, c = images.shape
  out = jax.ShapeDtypeStruct((b, p.height, p.width, c), jnp.float32)
  if not p.levels:
    return jnp.zeros(out.shape, out.dtype)
  places = np.array([(lv.top, lv.left) for lv in p.levels], np.int32)        # (L, 2), static
  return jax.ffi.ffi_call("jaxvis_AreaMosaic", out, vmap_method="sequential")(
      images.astype(jnp.float32), sizes.astype(jnp.int32), lsizes.astype(jnp.int32),
      jnp.asarray(places), threads=np.int64(native.threads()))


def _mosaic_xla(p: PyramidPlan, images, sizes, lsizes):
  """The XLA form of `build_mosaic`: whole (`_mosaic_stacked`) or, past STRIP_VALUES
  values per image, level by level in strips."""
  b, _, _, c = images.shape
  x = images.astype(jnp.float32)
  if x[0].size <= STRIP_VALUES:
    return _mosaic_stacked(p, x, sizes, lsizes)
  mosaic = jnp.zeros((b, p.height, p.width, c), jnp.float32)
  for k, lv in enumerate(p.levels):
    # the barrier orders the levels, so XLA frees one level's temporaries before the next
    x, mosaic = jax.lax.optimization_barrier((x, mosaic))
    out_h, out_w = lsizes[:, k, 0], lsizes[:, k, 1]                 # (B,)
    local = jnp.arange(lv.height)[None]
    lo, hi, sy = _area_positions(sizes[:, 0, None], out_h[:, None], local)   # (B, h)
    rows = _area_pass(x, lo, hi, sy, axis=1, fast=False)
    rows = jnp.where((local < out_h[:, None])[:, :, None, None], rows, 0.0)  # (B, h, W, C)
    block = _level_columns(rows, lv, out_w, sizes, fast=False)
    mosaic = jax.lax.dynamic_update_slice(mosaic, block, (0, lv.top, lv.left, 0))
  return mosaic


def _mosaic_stacked(p: PyramidPlan, x: jax.Array, sizes: jax.Array, lsizes: jax.Array):
  """All levels' rows in one pass, then each level's columns (fast; memory ~ 2x the image).

  Each image's samples are plain 1-D takes of whole rows / columns (`_box_filter`
  under vmap): XLA:CPU copies them as blocks, where broadcast `take_along_axis`
  indices made it gather value by value (the pyramid was ~30% of a 640x480 frame).
  """
  b, _, _, c = x.shape
  # every output row of every level, stacked: its level and local index (static)
  row_level = np.concatenate([np.full(l.height, k) for k, l in enumerate(p.levels)])
  row_local = jnp.asarray(np.concatenate([np.arange(l.height) for l in p.levels]))[None]
  out_h = lsizes[:, row_level, 0]                                  # (B, R)
  lo, hi, sy = _area_positions(sizes[:, 0, None], out_h, row_local)
  rows = _area_pass(x, lo, hi, sy, axis=1, fast=True)                 # (B, R, W, C)
  rows = jnp.where((row_local < out_h)[:, :, None, None], rows, 0.0)
  mosaic = jnp.zeros((b, p.height, p.width, c), jnp.float32)
  start = 0
  for k, lv in enumerate(p.levels):
    block = _level_columns(rows[:, start:start + lv.height], lv, lsizes[:, k, 1], sizes, fast=True)
    start += lv.height
    mosaic = jax.lax.dynamic_update_slice(mosaic, block, (0, lv.top, lv.left, 0))
  return mosaic


def _level_columns(rows, lv: Level, out_w, sizes, fast: bool):
  """One level's column pass: (B, h, W, C) resampled rows -> (B, h, w, C), zero past each
  image's own width at that level (`out_w`, (B,))."""
  cols = jnp.arange(lv.width)[None]
  lo, hi, sx = _area_positions(sizes[:, 1, None], out_w[:, None], cols)   # (B, w)
  block = _area_pass(rows, lo, hi, sx, axis=2, fast=fast)
  return jnp.where((cols < out_w[:, None])[:, None, :, None], block, 0.0)


# Past this many values per image a pass runs in strips of the other axis (lax.map),
# so its cumulative sums and gathers are strip-sized (a 4000x3000 photo's pyramid:
# ~1.6 GB of XLA temporaries when built whole).
STRIP_VALUES = 1 << 24
STRIP = 256


def _area_pass(x, lo, hi, scale, axis: int, fast: bool):
  """TF area filter of (B, H, W, C) along axis 1 (rows) or 2 (columns) -> m samples there
  (`fast`: as `_exclusive_cumsum`; the large-image path runs without it)."""
  filt = lambda xs: jax.vmap(_box_filter, in_axes=(0, 0, 0, 0, 0, None))(
      xs, _exclusive_cumsum(xs, axis, fast), lo, hi, scale, axis - 1)
  other = 3 - axis                       # the independent spatial axis
  n = x.shape[other]
  if x[0].size <= STRIP_VALUES or n <= STRIP:
    return filt(x)
  m = lo.shape[-1]
  out_shape = tuple(m if d == axis else x.shape[d] for d in range(4))

  def body(i, out):  # strip i in place: no padded or transposed copy of the image
    start = jnp.minimum(i * STRIP, n - STRIP)      # the last strip overlaps its neighbour
    strip = filt(jax.lax.dynamic_slice_in_dim(x, start, STRIP, axis=other))
    return jax.lax.dynamic_update_slice_in_dim(out, strip, start, axis=other)

  return jax.lax.fori_loop(0, -(-n // STRIP), body, jnp.zeros(out_shape, x.dtype))


def conv1_mask(p: PyramidPlan, lsizes: jax.Array) -> jax.Array:
  """(B, H - 2, W - 2) bool: conv1 outputs that lie inside an image's level."""
  tops = jnp.array([lv.top for lv in p.levels])
  lefts = jnp.array([lv.left for lv in p.levels])
  r = jnp.arange(p.height - 2)[None, None, :]
  q = jnp.arange(p.width - 2)[None, None, :]
  rows = (r >= tops[None, :, None]) & (r < (tops[None, :] + lsizes[..., 0] - 2)[..., None])
  cols = (q >= lefts[None, :, None]) & (q < (lefts[None, :] + lsizes[..., 1] - 2)[..., None])
  return jnp.einsum("blh,blw->bhw", rows.astype(jnp.float32), cols.astype(jnp.float32)) > 0


def cell_tables(p: PyramidPlan, grid_h: int, grid_w: int):
  """Per-cell tables of the P-Net output grid over the mosaic, computed on device.

  Built from iotas behind an optimization barrier rather than embedded as
  constants: a 4000x3000 photo's grid has 2.8 M cells, whose tables as HLO
  literals made a 68 MB program and ~2 GB of compiler memory.

  Returns:
    level (gh*gw,) int32 level index (-1 where no level starts a window),
    local_y, local_x (gh*gw,) int32 cell coordinates inside that level.
  """
  gy, gx = jax.lax.optimization_barrier((jnp.arange(grid_h, dtype=jnp.int32)[:, None],
                                         jnp.arange(grid_w, dtype=jnp.int32)[None, :]))
  level = jnp.full((grid_h, grid_w), -1, jnp.int32)
  ly = jnp.zeros((grid_h, grid_w), jnp.int32)
  lx = jnp.zeros((grid_h, grid_w), jnp.int32)
  for k, lv in enumerate(p.levels):
    y0, x0 = lv.top // PNET_STRIDE, lv.left // PNET_STRIDE
    ch, cw = pnet_cells(lv.height), pnet_cells(lv.width)
    if ch <= 0 or cw <= 0:
      continue
    inside = (gy >= y0) & (gy < y0 + ch) & (gx >= x0) & (gx < x0 + cw)
    level = jnp.where(inside, k, level)
    ly = jnp.where(inside, gy - y0, ly)
    lx = jnp.where(inside, gx - x0, lx)
  return level.reshape(-1), ly.reshape(-1), lx.reshape(-1)


def pnet_cells(n):
  """P-Net output length for input length n (conv3, pool2 SAME, conv3, conv3)."""
  return (n - 2 + 1) // 2 - 4
