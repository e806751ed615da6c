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
