"""StackedCAE: Table 2 shapes, tied (flipped) decoder, dtypes, bad sizes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxvis.adjectives.model import StackedCAE, check_image_size, flip_kernel


def test_table2_shapes():
  model = StackedCAE()
  x = jax.ShapeDtypeStruct((2, 100, 100, 3), jnp.float32)
  variables = jax.eval_shape(model.init, jax.random.key(0), x)
  p = variables["params"]
  assert p["encoder1"]["kernel"].shape == (5, 5, 3, 20)
  assert p["encoder2"]["kernel"].shape == (5, 5, 20, 20)
  assert "kernel" not in p["decoder1"]          # tied to the encoder
  codes = jax.eval_shape(lambda v, x: model.apply(v, x, method=StackedCAE.encode), variables, x)
  assert [c.shape[1:] for c in codes] == [(100, 100, 3), (48, 48, 20), (22, 22, 20)]
  inputs, outputs = jax.eval_shape(model.apply, variables, x)
  assert [o.shape for o in outputs] == [i.shape for i in inputs]


def test_tied_decoder_is_the_adjoint_of_the_encoder_convolution():
  model = StackedCAE(features=(6,), activation="linear", image_activation="linear", pool=1)
  x = jax.random.normal(jax.random.key(0), (1, 12, 12, 3))
  v = model.init(jax.random.key(1), x)
  v = jax.tree.map(jnp.zeros_like, v)
  v["params"]["encoder1"]["kernel"] = jax.random.normal(jax.random.key(2), (5, 5, 3, 6))
  y = jax.random.normal(jax.random.key(3), (1, 8, 8, 6))
  conv = model.apply(v, x, 1, method=StackedCAE.encode_level)        # linear, no pool
  deconv = model.apply(v, y, 1, method=StackedCAE.decode_level)
  # <conv(x), y> == <x, deconv(y)>: the flipped kernel with "full" padding is conv^T.
  np.testing.assert_allclose(float(jnp.vdot(conv, y)), float(jnp.vdot(x, deconv)), rtol=1e-4)
  k = np.arange(2 * 2 * 1 * 3, dtype=np.float32).reshape(2, 2, 1, 3)
  np.testing.assert_array_equal(np.asarray(flip_kernel(k))[0, 0, :, 0], k[1, 1, 0, :])


def test_free_decoder_and_bfloat16_compute():
  model = StackedCAE(features=(4, 4), tied=False, dtype=jnp.bfloat16)
  x = jnp.ones((1, 28, 28, 3)) * 0.5
  v = model.init(jax.random.key(0), x)
  assert v["params"]["decoder1"]["kernel"].shape == (5, 5, 4, 3)
  assert all(l.dtype == jnp.float32 for l in jax.tree.leaves(v))
  inputs, outputs = model.apply(v, x)
  assert outputs[0].dtype == jnp.bfloat16 and outputs[0].shape == x.shape
  ref = StackedCAE(features=(4, 4), tied=False).apply(v, x)[1][0]
  np.testing.assert_allclose(np.asarray(outputs[0], np.float32), np.asarray(ref), atol=3e-2)


def test_reconstruct_level_is_encode_then_decode():
  model = StackedCAE(features=(3, 5))
  x = jax.random.uniform(jax.random.key(0), (2, 28, 28, 3))
  v = model.init(jax.random.key(1), x)
  h = model.apply(v, x, 1, method=StackedCAE.encode_level)
  direct = model.apply(v, h, 2, method=StackedCAE.reconstruct_level)
  two = model.apply(v, model.apply(v, h, 2, method=StackedCAE.encode_level), 2,
                    method=StackedCAE.decode_level)
  np.testing.assert_allclose(np.asarray(direct), np.asarray(two), atol=1e-6)
  assert direct.shape == h.shape


def test_bad_configuration_and_sizes():
  with pytest.raises(ValueError, match="activation"):
    StackedCAE(features=(2,), activation="swishy").init(jax.random.key(0), jnp.zeros((1, 12, 12, 3)))
  with pytest.raises(ValueError, match="images: a 101x101 input"):
    check_image_size(StackedCAE(), 101, 101)
  check_image_size(StackedCAE(), 100, 100)
