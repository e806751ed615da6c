"""The native pyramid mosaic (jaxvis/native/area_mosaic.cc) gives the XLA form's values."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxvis import native
from jaxvis.errors import InputError
from jaxvis.faces import pyramid

_OK, _WHY = native.available(*pyramid.MOSAIC_KERNEL)
needs_native = pytest.mark.skipif(not _OK, reason=f"native area_mosaic kernel unavailable: {_WHY}")

CANVAS = (160, 160)
MIXED = [(37, 53), (120, 160), (160, 97)]        # valid sizes of a mixed batch, top-left aligned


def _case(canvas, sizes, min_face_size, seed=0):
  x = np.random.default_rng(seed).uniform(-1, 1, (len(sizes), *canvas, 3)).astype(np.float32)
  p = pyramid.plan(*canvas, min_face_size, 0.709)
  s = jnp.asarray(sizes, jnp.int32)
  return p, jnp.asarray(x), s, pyramid.level_sizes(p, s)


def _mosaic(p, x, s, ls, impl="auto"):
  """build_mosaic under jit (XLA's form runs op by op, slowly, without it)."""
  return np.asarray(jax.jit(functools.partial(pyramid.build_mosaic, p, impl=impl))(x, s, ls))


def _outside_levels(p, lsizes):
  """(B, Hm, Wm) True where no level of that image lies."""
  lsizes = np.asarray(lsizes)
  out = np.ones((lsizes.shape[0], p.height, p.width), bool)
  for b in range(lsizes.shape[0]):
    for lv, (h, w) in zip(p.levels, lsizes[b]):
      out[b, lv.top:lv.top + h, lv.left:lv.left + w] = False
  return out


def _area_matrix(n_in, n_out):
  """(n_out, n_in) TF ResizeArea weights in float64, at pyramid's float32 positions
  (`_area_positions`, in numpy: eager jax would compile once per level shape)."""
  s = np.float32(n_in) / np.float32(max(n_out, 1))
  o = np.arange(n_out, dtype=np.float32)
  lo, hi = np.minimum(o * s, np.float32(n_in)), np.minimum((o + np.float32(1)) * s, np.float32(n_in))
  i = np.arange(n_in)
  lo, hi = lo.astype(np.float64)[:, None], hi.astype(np.float64)[:, None]
  return np.clip(np.minimum(hi, i + 1) - np.maximum(lo, i), 0, None) / np.float64(s)


def _reference(p, x, sizes, lsizes):
  """The mosaic in float64 (weights as matrices): no cumulative-sum rounding."""
  x, sizes, lsizes = np.asarray(x, np.float64), np.asarray(sizes), np.asarray(lsizes)
  out = np.zeros((x.shape[0], p.height, p.width, x.shape[3]))
  for b, (ih, iw) in enumerate(sizes):
    for lv, (h, w) in zip(p.levels, lsizes[b]):
      out[b, lv.top:lv.top + h, lv.left:lv.left + w] = np.einsum(
          "oi,ijc,pj->opc", _area_matrix(ih, h), x[b, :ih, :iw], _area_matrix(iw, w), optimize=True)
  return out


@needs_native
@pytest.mark.parametrize("min_face_size", [20, 12])
def test_native_equals_xla_on_a_mixed_batch(min_face_size):
  p, x, s, ls = _case(CANVAS, MIXED, min_face_size)
  xla = _mosaic(p, x, s, ls, impl="xla")
  nat = np.asarray(pyramid.build_mosaic(p, x, s, ls, impl="native"))   # eager
  assert nat.shape == xla.shape == (3, p.height, p.width, 3)
  np.testing.assert_allclose(nat, xla, rtol=0, atol=1e-5)
  outside = _outside_levels(p, ls)
  assert outside.any() and not np.any(nat[outside]) and not np.any(xla[outside])


@needs_native
def test_native_equals_the_xla_strip_path(monkeypatch):
  p, x, s, ls = _case((100, 100), [(37, 53), (100, 71), (64, 100)], 30, seed=1)   # 4 levels: quick to compile
  nat = np.asarray(pyramid.build_mosaic(p, x, s, ls, impl="native"))
  monkeypatch.setattr(pyramid, "STRIP_VALUES", 1000)             # the large-image path...
  monkeypatch.setattr(pyramid, "STRIP", 64)                      # ...in strips of 64
  strips = _mosaic(p, x, s, ls, impl="xla")
  np.testing.assert_allclose(nat, strips, rtol=0, atol=1e-5)


@needs_native
def test_native_under_jit():
  p, x, s, ls = _case(CANVAS, MIXED, 12, seed=2)
  run = jax.jit(lambda x, s: pyramid.build_mosaic(p, x, s, pyramid.level_sizes(p, s), impl="native"))
  jitted = np.asarray(run(x, s))
  np.testing.assert_array_equal(jitted, np.asarray(pyramid.build_mosaic(p, x, s, ls, impl="native")))
  np.testing.assert_allclose(jitted, _mosaic(p, x, s, ls, impl="xla"), rtol=0, atol=1e-5)


@needs_native
@pytest.mark.parametrize("canvas, sizes, min_face_size", [
    ((64, 1400), [(64, 1400), (53, 1111)], 20),   # bands of ~15 rows, 2 chunks an image
    ((96, 700), [(96, 700), (75, 512)], 6),       # upsampled (scale 2), bands of ~31 rows
])
def test_native_on_wide_images_matches_float64(canvas, sizes, min_face_size):
  """Long rows make the kernel's bands (~256 KB of rows) a few rows high, so output rows
  are carried across bands and chunks."""
  p, x, s, ls = _case(canvas, sizes, min_face_size, seed=3)
  nat = _mosaic(p, x, s, ls, impl="native")
  np.testing.assert_allclose(nat, _reference(p, x, s, ls), rtol=0, atol=2e-6)


@needs_native
def test_kernel_rejects_levels_outside_the_mosaic():
  p, x, s, ls = _case(CANVAS, MIXED, 20)
  with pytest.raises(Exception, match="AreaMosaic: image 0, level 0: .* does not fit"):
    jax.block_until_ready(pyramid._mosaic_native(p, x, s, ls.at[0, 0].set(10_000)))


def test_native_unavailable_raises_or_falls_back(monkeypatch):
  p, x, s, ls = _case(CANVAS, MIXED[:2], 20)
  monkeypatch.setattr(native, "available", lambda *a: (False, "test: no compiler"))
  with pytest.raises(InputError, match="impl: 'native' mosaic unavailable: test: no compiler"):
    pyramid.build_mosaic(p, x, s, ls, impl="native")
  monkeypatch.delenv("JAXVIS_NATIVE", raising=False)
  with pytest.warns(RuntimeWarning, match="test: no compiler"):
    auto = _mosaic(p, x, s, ls)                                 # "auto" falls back to XLA's form
  np.testing.assert_array_equal(auto, _mosaic(p, x, s, ls, impl="xla"))
  with pytest.raises(InputError, match="impl"):
    pyramid.build_mosaic(p, x, s, ls, impl="fast")
