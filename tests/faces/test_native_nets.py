"""The native CPU kernels of P-, R- and O-Net (`faces.native_nets`) against the Flax networks,
the cascade with them against the cascade without, and what happens when they cannot be built."""

import os
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxvis import native
from jaxvis.errors import InputError
from jaxvis.faces import cascade, native_nets, nets, samples

OK, WHY = native_nets.available()
needs_native = pytest.mark.skipif(not OK, reason=f"native kernels unavailable: {WHY}")


def _close(a, b, tol=2e-5):
  a, b = np.asarray(a), np.asarray(b)
  assert a.shape == b.shape
  scale = max(1.0, float(np.abs(a).max()))
  assert float(np.abs(a - b).max()) <= tol * scale, float(np.abs(a - b).max())


@needs_native
@pytest.mark.parametrize("shape", [(2, 61, 77), (1, 12, 12), (3, 40, 13), (1, 97, 130)])
@pytest.mark.parametrize("conv_impl", ["plain", "blocks"])
def test_pnet_equals_flax(mtcnn_params, shape, conv_impl):
  b, h, w = shape
  x = jax.random.uniform(jax.random.key(h), (b, h, w, 3), minval=-1, maxval=1)
  mask = jax.random.uniform(jax.random.key(w), (b, h - 2, w - 2)) > 0.15
  ref = nets.PNet(conv_impl=conv_impl).apply({"params": mtcnn_params["pnet"]}, x, conv1_mask=mask)
  out = jax.jit(native_nets.pnet)(mtcnn_params["pnet"], x, mask)
  # cells whose window meets a fully masked pool window are -inf/NaN in the plain form
  # (no valid cell reads one; the native kernel, like the block form, keeps them finite)
  finite = np.isfinite(np.asarray(ref[0])).all(-1) & np.isfinite(np.asarray(ref[1])).all(-1)
  assert finite.mean() > 0.5 and np.isfinite(np.asarray(out[0])).all()
  for r, o in zip(ref, out):
    _close(np.asarray(r)[finite], np.asarray(o)[finite])


@needs_native
def test_pnet_unmasked_equals_flax(mtcnn_params):
  x = jax.random.uniform(jax.random.key(3), (1, 50, 64, 3), minval=-1, maxval=1)
  ref = nets.PNet().apply({"params": mtcnn_params["pnet"]}, x)
  out = native_nets.pnet(mtcnn_params["pnet"], x, jnp.ones((1, 48, 62), bool))
  for r, o in zip(ref, out):
    _close(r, o)


@needs_native
def test_rnet_onet_equal_flax(mtcnn_params):
  x = jax.random.uniform(jax.random.key(0), (37, 24, 24, 3), minval=-1, maxval=1)
  ref = nets.RNet().apply({"params": mtcnn_params["rnet"]}, x)
  for r, o in zip(ref, jax.jit(native_nets.rnet)(mtcnn_params["rnet"], x)):
    _close(r, o)
  x = jax.random.uniform(jax.random.key(1), (9, 48, 48, 3), minval=-1, maxval=1)
  ref = nets.ONet().apply({"params": mtcnn_params["onet"]}, x)
  for r, o in zip(ref, native_nets.onet(mtcnn_params["onet"], x)):
    _close(r, o)


@needs_native
def test_onet_four_points_equals_flax():
  """The QR reader's O-Net regresses 4 corners (8 values): other head widths work too."""
  net = nets.ONet(num_landmarks=4)
  x = jax.random.uniform(jax.random.key(2), (5, 48, 48, 3), minval=-1, maxval=1)
  params = net.init(jax.random.key(0), x)["params"]
  ref = net.apply({"params": params}, x)
  out = native_nets.onet(params, x)
  assert out[1].shape == (5, 8)
  for r, o in zip(ref, out):
    _close(r, o)


@needs_native
def test_kernel_rejects_wrong_parameters(mtcnn_params):
  bad = dict(mtcnn_params["pnet"], conv2={"kernel": jnp.zeros((3, 3, 10, 8)), "bias": jnp.zeros(8)})
  with pytest.raises(Exception, match="conv2 kernel"):
    jax.block_until_ready(native_nets.pnet(bad, jnp.zeros((1, 20, 20, 3)), jnp.ones((1, 18, 18), bool)))


@needs_native
@pytest.mark.parametrize("batch,h,w", [(1, 240, 320), (3, 180, 250)])
def test_cascade_native_equals_xla(mtcnn_params, batch, h, w):
  x = samples.frames(batch, h, w, seed=batch)
  ref = cascade.detect(mtcnn_params, x, kernels="xla")
  out = cascade.detect(mtcnn_params, x, kernels="native")
  assert int(np.sum(ref.valid)) > 0
  np.testing.assert_array_equal(np.asarray(out.valid), np.asarray(ref.valid))
  v = np.asarray(ref.valid)
  np.testing.assert_allclose(np.asarray(out.boxes)[v], np.asarray(ref.boxes)[v], atol=1e-2)
  np.testing.assert_allclose(np.asarray(out.landmarks)[v], np.asarray(ref.landmarks)[v], atol=1e-2)
  np.testing.assert_allclose(np.asarray(out.scores)[v], np.asarray(ref.scores)[v], atol=1e-4)


def test_unavailable_kernels_warn_and_fall_back(monkeypatch):
  monkeypatch.setattr(native_nets, "available", lambda: (False, "no compiler in this test"))
  monkeypatch.setattr(jax, "default_backend", lambda: "cpu")
  monkeypatch.delenv("JAXVIS_NATIVE", raising=False)
  with pytest.warns(RuntimeWarning, match="no compiler in this test"):
    assert native_nets.use_native("auto") is False
  with pytest.raises(RuntimeError, match="kernels='native': no compiler in this test"):
    native_nets.use_native("native")
  with warnings.catch_warnings():
    warnings.simplefilter("error")
    assert native_nets.use_native("xla") is False


def test_compile_error_is_reported(tmp_path):
  cxx = native._compiler()
  with pytest.raises(native.NativeUnavailable, match="compiling broken.cc failed"):
    native._compile(cxx, "broken", b"this is not C++", str(tmp_path / "broken.so"), jax.ffi.include_dir())
  assert not os.path.exists(tmp_path / "broken.so")


def test_bad_options():
  with pytest.raises(InputError, match="kernels"):
    cascade.CascadeConfig(kernels="fast")
  with pytest.raises(InputError, match="kernels"):
    cascade.CascadeConfig(kernels="native", dtype=jnp.bfloat16)


def test_threads_from_environment(monkeypatch):
  monkeypatch.setenv("JAXVIS_NATIVE_THREADS", "3")
  assert native.threads() == 3
  monkeypatch.setenv("JAXVIS_NATIVE_THREADS", "zero")
  with pytest.raises(ValueError, match="JAXVIS_NATIVE_THREADS"):
    native.threads()
