"""Large images in bounded memory: the pyramid built in strips and P-Net run in bands give
exactly the one-pass results (checked here on a small image with the thresholds lowered).
These are the XLA forms (accelerators, and CPUs without the native kernels, which stream
by construction: tests/faces/test_native_pyramid.py, test_native_nets.py)."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxvis.faces import cascade, pyramid, samples


def test_strips_and_bands_equal_the_one_pass(mtcnn_params, monkeypatch):
  frame = samples.frames(2, 150, 210, seed=11)
  norm = cascade.normalize(jnp.asarray(frame, jnp.float32))
  sizes = jnp.array([[150, 210], [131, 190]], jnp.int32)          # mixed sizes in one canvas
  cfg = cascade.CascadeConfig()

  def run():
    plan = pyramid.plan(150, 210, cfg.min_face_size, cfg.scale_factor)
    ls = pyramid.level_sizes(plan, sizes)
    mosaic = pyramid.build_mosaic(plan, norm, sizes, ls, impl="xla")
    out = cascade._pnet_banded(mtcnn_params["pnet"], mosaic, pyramid.conv1_mask(plan, ls), jnp.float32, native=False)
    return mosaic, out

  whole_mosaic, whole = jax.jit(run)()
  monkeypatch.setattr(pyramid, "STRIP_VALUES", 1000)               # strips of 256 along the other axis...
  monkeypatch.setattr(pyramid, "STRIP", 64)                        # ...of 64 here (150 rows: 3 strips, one overlapping)
  monkeypatch.setattr(cascade, "PNET_BAND_PIXELS", 4000)           # P-Net in bands of 8 output rows
  parts_mosaic, parts = jax.jit(run)()
  np.testing.assert_allclose(np.asarray(parts_mosaic), np.asarray(whole_mosaic), atol=2e-5)
  for a, b in zip(parts, whole):
    assert a.shape == b.shape
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=2e-4)
