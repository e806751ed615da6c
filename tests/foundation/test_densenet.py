"""jaxvis.nn.densenet: layer wiring (channel growth, transitions), BN modes, dtype, bad input."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxvis.nn import densenet


def test_dense_layer_concatenates_growth_maps_and_keeps_its_input():
  x = jax.random.normal(jax.random.key(0), (2, 8, 8, 5))
  layer = densenet.DenseLayer(growth_rate=3, bottleneck=True)
  v = layer.init(jax.random.key(1), x)
  y = layer.apply(v, x)
  assert y.shape == (2, 8, 8, 8)
  np.testing.assert_array_equal(np.asarray(y[..., :5]), np.asarray(x))   # dense connectivity
  assert v["params"]["conv1"]["kernel"].shape == (1, 1, 5, 12)             # 4k bottleneck
  assert v["params"]["conv2"]["kernel"].shape == (3, 3, 12, 3)


def test_small_densenet_shapes_channels_and_batchnorm_modes():
  model = densenet.DenseNetSmall(num_classes=2)
  x = jax.random.normal(jax.random.key(0), (4, 16, 16, 1))
  v = jax.jit(model.init)(jax.random.key(1), x)
  assert set(v) == {"params", "batch_stats"}
  p = v["params"]
  # stem 2k = 16; block1 16 + 3*8 = 40 -> transition 20; block2 20 + 24 = 44 -> 22; block3 22 + 24 = 46
  assert p["stem_conv"]["kernel"].shape == (3, 3, 1, 16)
  assert p["transition1"]["conv"]["kernel"].shape == (1, 1, 40, 20)
  assert p["transition2"]["conv"]["kernel"].shape == (1, 1, 44, 22)
  assert p["head"]["kernel"].shape == (46, 2)
  apply = jax.jit(lambda v, x: model.apply(v, x, return_features=True))
  logits, feats = apply(v, x)
  assert logits.shape == (4, 2) and feats.shape == (4, 46) and logits.dtype == jnp.float32
  # inference uses the running statistics: per-example output independent of the batch
  one, _ = apply(v, x[:1])
  np.testing.assert_allclose(np.asarray(one), np.asarray(logits[:1]), atol=1e-5)
  # training normalises with batch statistics and updates the running ones
  out, upd = jax.jit(lambda v, x: model.apply(v, x, train=True, mutable=["batch_stats"]))(v, x)
  assert not np.allclose(np.asarray(out), np.asarray(logits))
  before = v["batch_stats"]["final_bn"]["mean"]
  assert not np.allclose(np.asarray(upd["batch_stats"]["final_bn"]["mean"]), np.asarray(before))
  # bfloat16 compute, float32 parameters and logits, close to float32
  low = jax.jit(densenet.DenseNetSmall(num_classes=2, dtype=jnp.bfloat16).apply)(v, x)
  assert low.dtype == jnp.float32
  np.testing.assert_allclose(np.asarray(low), np.asarray(logits), atol=0.15)
  assert all(a.dtype == jnp.float32 for a in jax.tree_util.tree_leaves(v))


def test_densenet121_layout():
  model = densenet.DenseNet121(num_classes=10)
  shapes = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 64, 64, 3)))
  p = shapes["params"]
  assert p["stem_conv"]["kernel"].shape == (7, 7, 3, 64)
  assert sum(k.startswith("block") for k in p) == 6 + 12 + 24 + 16
  # 64 + 6*32 = 256 -> 128; +12*32 = 512 -> 256; +24*32 = 1024 -> 512; +16*32 = 1024
  assert p["transition3"]["conv"]["kernel"].shape == (1, 1, 1024, 512)
  assert p["head"]["kernel"].shape == (1024, 10)


def test_densenet_bad_input():
  model = densenet.DenseNetSmall(num_classes=2)
  with pytest.raises(ValueError, match="x: expected"):
    model.init(jax.random.key(0), jnp.zeros((32, 32, 1)))
  with pytest.raises(ValueError, match="at least 4x4"):
    model.init(jax.random.key(0), jnp.zeros((1, 2, 2, 1)))
  with pytest.raises(TypeError, match="float"):
    model.init(jax.random.key(0), jnp.zeros((1, 32, 32, 1), jnp.int32))
