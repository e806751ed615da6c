"""`PointwiseConv` is `nn.Conv(features, (1, 1), strides)` computed as a matmul."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxvis.nn import layers


@pytest.mark.parametrize("strides,use_bias,padding", [(1, True, "SAME"), (2, False, "SAME"), ((2, 3), True, "VALID")])
def test_pointwise_conv_equals_flax_conv(strides, use_bias, padding):
  x = jax.random.normal(jax.random.key(0), (2, 7, 9, 5))
  ref = nn.Conv(6, (1, 1), strides, padding=padding, use_bias=use_bias)
  ours = layers.PointwiseConv(6, strides, use_bias=use_bias)
  ref_vars = ref.init(jax.random.key(1), x)
  ours_vars = ours.init(jax.random.key(1), x)
  # Same parameter tree and initial values: checkpoints and weight importers carry over.
  assert jax.tree.structure(ours_vars) == jax.tree.structure(ref_vars)
  for a, b in zip(jax.tree.leaves(ours_vars), jax.tree.leaves(ref_vars)):
    np.testing.assert_array_equal(a, b)
  if use_bias:  # a non-zero bias, so the bias path is checked too
    ref_vars = jax.tree.map(lambda v: v + 0.3, ref_vars)
  got, want = ours.apply(ref_vars, x), ref.apply(ref_vars, x)
  assert got.shape == want.shape
  np.testing.assert_allclose(got, want, atol=1e-5)


def test_pointwise_conv_dtype_promotion_like_flax():
  x = jax.random.normal(jax.random.key(0), (1, 4, 4, 3))
  variables = layers.PointwiseConv(2).init(jax.random.key(1), x)
  assert layers.PointwiseConv(2).apply(variables, x).dtype == jnp.float32
  bf16 = layers.PointwiseConv(2, dtype=jnp.bfloat16).apply(variables, x)
  assert bf16.dtype == jnp.bfloat16
  assert variables["params"]["kernel"].dtype == jnp.float32


def test_conv_factory_picks_pointwise_only_for_1x1():
  assert isinstance(layers.conv(4, (1, 1), 2, use_bias=False), layers.PointwiseConv)
  assert isinstance(layers.conv(4, 1, padding="VALID"), layers.PointwiseConv)
  assert type(layers.conv(4, (3, 3), padding=((1, 1), (1, 1)))) is nn.Conv
  # explicit non-zero padding on a 1x1 conv changes the output size: keep nn.Conv
  assert type(layers.conv(4, (1, 1), padding=((1, 1), (1, 1)))) is nn.Conv


def test_small_cnn_standardize_has_finite_gradient_on_constant_images():
  import jax
  import jax.numpy as jnp
  import numpy as np
  from jaxvis.nn.classifiers import SmallCNN
  net = SmallCNN(3, widths=(4, 8), standardize=True)
  x = jnp.zeros((1, 16, 16, 3))
  variables = net.init(jax.random.key(0), x)
  grad = jax.grad(lambda im: net.apply(variables, im)[0, 0])(x)
  assert np.isfinite(np.asarray(grad)).all()
  noisy = jax.random.uniform(jax.random.key(1), (2, 16, 16, 3))
  mean = noisy.mean(axis=(1, 2), keepdims=True)
  ref = (noisy - mean) / (jnp.std(noisy, axis=(1, 2), keepdims=True) + 0.05)
  assert ref.shape == noisy.shape  # the forward keeps jnp.std's value (checked on the logits below)
  logits = net.apply(variables, noisy)
  manual = SmallCNN(3, widths=(4, 8), standardize=False).apply(variables, ref)
  np.testing.assert_allclose(np.asarray(logits), np.asarray(manual), rtol=1e-6, atol=1e-6)
