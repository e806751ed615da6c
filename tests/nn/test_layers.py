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


@pytest.mark.parametrize("hw", [(3, 3), (12, 12), (13, 17), (40, 29)])
def test_block_conv3x3_equals_flax_conv_and_its_pool(hw):
  rng = np.random.default_rng(hw[0] * 100 + hw[1])
  x = jnp.asarray(rng.standard_normal((2, *hw, 5)).astype(np.float32))
  ref = nn.Conv(7, (3, 3), padding="VALID")
  variables = ref.init(jax.random.PRNGKey(0), x)
  variables = {"params": {**variables["params"], "bias": jnp.asarray(rng.standard_normal(7), jnp.float32)}}
  want = ref.apply(variables, x)
  got = layers.BlockConv3x3(7).apply(variables, x)   # the same parameter tree
  assert got.shape == want.shape
  np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=3e-6)
  blocks = layers.BlockConv3x3(7, blocks=True).apply(variables, x)
  h, w = want.shape[1:3]
  assert blocks.shape == (2, -(-h // 2), -(-w // 2), 2, 2, 7)
  inside = ((np.arange(2 * blocks.shape[1]) < h).reshape(-1, 2)[None, :, None, :, None, None]
            & (np.arange(2 * blocks.shape[2]) < w).reshape(-1, 2)[None, None, :, None, :, None])
  pooled = np.where(inside, np.asarray(blocks), -np.inf).max(axis=(3, 4))
  np.testing.assert_allclose(pooled, np.asarray(nn.max_pool(want, (2, 2), (2, 2), "SAME")), atol=3e-6)


def test_block_conv3x3_init_and_gradient_like_flax_conv():
  x = jnp.ones((1, 8, 8, 3))
  ours = layers.BlockConv3x3(4).init(jax.random.PRNGKey(3), x)
  ref = nn.Conv(4, (3, 3), padding="VALID").init(jax.random.PRNGKey(3), x)
  assert jax.tree.map(jnp.shape, ours) == jax.tree.map(jnp.shape, ref)
  np.testing.assert_array_equal(np.asarray(ours["params"]["kernel"]), np.asarray(ref["params"]["kernel"]))
  loss = lambda m: lambda v: jnp.sum(m.apply(v, x * jnp.arange(64.0).reshape(1, 8, 8, 1)) ** 2)
  g_ours = jax.grad(loss(layers.BlockConv3x3(4)))(ref)
  g_ref = jax.grad(loss(nn.Conv(4, (3, 3), padding="VALID")))(ref)
  for a, b in zip(jax.tree.leaves(g_ours), jax.tree.leaves(g_ref)):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5)
