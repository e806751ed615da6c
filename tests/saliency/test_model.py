"""Masking model architecture, the mask non-linearity, and `explain`."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxvis import saliency
from jaxvis.saliency import model as model_lib

TINY = model_lib.MaskingConfig.small(5, small_widths=(8, 16, 16), convs_per_block=2, upsampler_base=16)


@pytest.fixture(scope="module")
def tiny_params():
  return saliency.MaskingParams(model_lib.init(TINY, jax.random.key(0), (32, 32)), TINY)


def test_two_channel_mask_values_and_zero_over_zero():
  chans = jnp.array([[[[3.0, 1.0], [0.0, 2.0], [0.0, 0.0], [-1.0, -1.0]]]])
  m = model_lib.two_channel_mask(chans)
  np.testing.assert_allclose(m[0, 0], [0.75, 0.0, 0.5, 0.5])
  g = jax.grad(lambda c: model_lib.two_channel_mask(c).sum())(chans)
  assert bool(jnp.all(jnp.isfinite(g)))
  np.testing.assert_allclose(g[0, 0, 2], [0.0, 0.0])  # 0/0: finite, zero gradient


def test_small_variant_structure_matches_paper():
  cfg = model_lib.MaskingConfig.small(10)
  assert cfg.convs_per_block == 5 and len(cfg.small_widths) == 3 and cfg.bottlenecks_per_upsampler == 1
  v = jax.eval_shape(lambda: model_lib.init(cfg, jax.random.key(0), (32, 32)))  # shapes only: no compile
  convs = [k for k in v["params"]["encoder"] if "conv" in k]
  assert len(convs) == 15
  assert set(v["params"]["upsampler1"]) >= {"upsample", "bottleneck1"}
  assert "bottleneck2" not in v["params"]["upsampler1"]
  assert v["params"]["feature_filter"]["class_embedding"]["embedding"].shape == (10, 256)


def test_imagenet_variant_structure():
  cfg = model_lib.MaskingConfig.imagenet()
  assert (cfg.bottom_stride, cfg.mask_stride, cfg.skip_strides) == (32, 4, (16, 8, 4))
  shapes = jax.eval_shape(lambda: model_lib.init(cfg, jax.random.key(0), (224, 224)))
  p = shapes["params"]
  assert p["feature_filter"]["class_embedding"]["embedding"].shape == (1000, 2048)
  assert p["upsampler1"]["upsample"]["kernel"].shape[-1] == 768
  assert p["upsampler3"]["upsample"]["kernel"].shape[-1] == 192
  assert "bottleneck3" in p["upsampler1"]
  assert p["to_mask"]["kernel"].shape == (1, 1, 192, 2)
  # 2x2 up-convolutions; the first bottleneck's shortcut is the upsampled map (no projection).
  assert p["upsampler1"]["upsample"]["kernel"].shape == (2, 2, 2048, 768)
  assert "proj_conv" not in p["upsampler1"]["bottleneck1"]
  proj = jax.eval_shape(lambda: model_lib.init(dataclasses.replace(cfg, shortcut="projection", upsample_kernel=3),
                                               jax.random.key(0), (224, 224)))["params"]
  assert proj["upsampler1"]["bottleneck1"]["proj_conv"]["kernel"].shape == (1, 1, 768 + 1024, 768)
  assert proj["upsampler1"]["upsample"]["kernel"].shape == (3, 3, 2048, 768)


def test_explain_shape_range_jit_and_dtype(tiny_params):
  x = jax.random.uniform(jax.random.key(1), (3, 32, 32, 3))
  ids = jnp.array([0, 2, 4])
  m = saliency.explain(tiny_params, x, ids)
  assert m.shape == (3, 32, 32) and m.dtype == jnp.float32
  assert float(m.min()) >= 0 and float(m.max()) <= 1
  mj = jax.jit(saliency.explain, static_argnames="dtype")(tiny_params, x, ids)
  np.testing.assert_allclose(m, mj, atol=1e-5)
  mb = saliency.explain(tiny_params, x, ids, dtype="bfloat16")
  assert mb.dtype == jnp.float32 and float(jnp.mean(jnp.abs(mb - m))) < 0.05
  # batched: each image's mask does not depend on the others
  np.testing.assert_allclose(saliency.explain(tiny_params, x[1:2], ids[1:2])[0], m[1], atol=1e-5)
  # the class selector changes the mask
  other = saliency.explain(tiny_params, x, jnp.array([1, 3, 0]))
  assert float(jnp.max(jnp.abs(other - m))) > 1e-4


def test_resnet_tiny_variant_explains(tmp_path):
  cfg = model_lib.MaskingConfig(num_classes=4, encoder="resnet_tiny", upsampler_base=32,
                                bottlenecks_per_upsampler=1)
  p = saliency.MaskingParams(model_lib.init(cfg, jax.random.key(0), (64, 64)), cfg)
  m = saliency.explain(p, jnp.ones((2, 64, 64, 3)), jnp.array([0, 3]))
  assert m.shape == (2, 64, 64) and bool(jnp.all(jnp.isfinite(m)))
  saliency.save(str(tmp_path), p, {"note": "x"})
  p2, meta = saliency.load(str(tmp_path))
  assert p2.config == cfg and meta == {"note": "x"}
  np.testing.assert_allclose(saliency.explain(p2, jnp.ones((2, 64, 64, 3)), jnp.array([0, 3])), m, atol=1e-6)


@pytest.mark.parametrize("images, ids, match", [
    (np.zeros((2, 32, 32), np.float32), [0, 1], "images: expected rank 4"),
    (np.zeros((2, 3, 32, 32), np.float32), [0, 1], "channels-first"),
    (np.zeros((2, 30, 32, 3), np.float32), [0, 1], "multiples of 8"),
    (np.zeros((2, 32, 32, 3), np.float32), [0, 5], r"class_ids: expected values in \[0, 5\)"),
    (np.zeros((2, 32, 32, 3), np.float32), [-1, 0], "class_ids"),
    (np.zeros((2, 32, 32, 3), np.float32), [0], r"class_ids: expected shape \(2,\)"),
    (np.full((2, 32, 32, 3), np.nan, np.float32), [0, 1], "images: contains NaN"),
])
def test_explain_bad_input(tiny_params, images, ids, match):
  with pytest.raises(ValueError, match=match):
    saliency.explain(tiny_params, jnp.asarray(images), jnp.asarray(ids))


def test_explain_type_errors(tiny_params):
  with pytest.raises(TypeError, match="images: expected a float"):
    saliency.explain(tiny_params, jnp.zeros((1, 32, 32, 3), jnp.uint8), jnp.array([0]))
  with pytest.raises(TypeError, match="params"):
    saliency.explain({"params": {}}, jnp.zeros((1, 32, 32, 3)), jnp.array([0]))


def test_mask_never_nan_under_jit(tiny_params):
  x = jnp.full((2, 32, 32, 3), jnp.nan).at[1].set(0.3)
  m = jax.jit(saliency.explain)(tiny_params, x, jnp.array([0, 9]))  # bad values cannot raise under jit
  assert bool(jnp.all(jnp.isfinite(m)))
  np.testing.assert_allclose(m[1], saliency.explain(tiny_params, x[1:], jnp.array([4]))[0], atol=1e-5)


def test_config_validation():
  with pytest.raises(ValueError, match="encoder"):
    model_lib.MaskingConfig(encoder="vgg")
  with pytest.raises(ValueError, match="num_upsamplers"):
    model_lib.MaskingConfig.small(10, num_upsamplers=4)
  with pytest.raises(ValueError, match="upsample_kernel"):
    model_lib.MaskingConfig.small(10, upsample_kernel=4)
  with pytest.raises(ValueError, match="shortcut"):
    model_lib.MaskingConfig.small(10, shortcut="none")


def test_strided_conv_transpose_equals_flax_conv_transpose():
  import flax.linen as nn
  x = jax.random.normal(jax.random.key(0), (2, 5, 7, 6))
  ours = model_lib.StridedConvTranspose(4)
  variables = ours.init(jax.random.key(1), x)
  ref = nn.ConvTranspose(4, (3, 3), (2, 2), padding="SAME", use_bias=False).apply(variables, x)
  got = ours.apply(variables, x)
  assert got.shape == ref.shape == (2, 10, 14, 4)
  np.testing.assert_allclose(got, ref, atol=1e-5)
  bf16 = model_lib.StridedConvTranspose(4, jnp.bfloat16).apply(variables, x)
  assert bf16.dtype == jnp.bfloat16
  np.testing.assert_allclose(bf16.astype(jnp.float32), ref, atol=0.1)


def test_conv_transpose_2x2_equals_flax_and_its_definition():
  import flax.linen as nn
  x = jax.random.normal(jax.random.key(0), (2, 3, 5, 6))
  ours = model_lib.ConvTranspose2x2(4)
  variables = ours.init(jax.random.key(1), x)
  got = np.asarray(ours.apply(variables, x))
  k = np.asarray(variables["params"]["kernel"])
  assert got.shape == (2, 6, 10, 4)
  # Definition: output pixel (2m + p, 2n + q) = x[m, n] @ kernel[1 - p, 1 - q].
  np.testing.assert_allclose(got[1, 2 * 2 + 1, 2 * 3 + 0], np.asarray(x)[1, 2, 3] @ k[0, 1], atol=1e-5)
  ref = nn.ConvTranspose(4, (2, 2), (2, 2), padding="VALID", use_bias=False).apply(variables, x)
  np.testing.assert_allclose(got, ref, atol=1e-5)


def test_small_cnn_encoder_is_the_classifiers_frozen_stages():
  from jaxvis.nn.classifiers import SmallCNN
  from jaxvis.saliency import train as train_lib
  cnn = SmallCNN(4, widths=(4, 8, 8), stem_stride=2, standardize=True, group_norm=False)
  cnn_vars = cnn.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)))
  cfg = model_lib.MaskingConfig.on_small_cnn(cnn)
  assert (cfg.bottom_stride, cfg.skip_strides, cfg.mask_stride, cfg.frozen_encoder) == (8, (4, 2), 2, True)
  variables = train_lib.set_encoder_variables(model_lib.init(cfg, jax.random.key(1), (32, 32)), cnn_vars)
  x = jax.random.uniform(jax.random.key(2), (2, 32, 32, 3))
  # The encoder computes exactly the classifier's stage maps.
  feats = cnn.apply(cnn_vars, x, method=SmallCNN.stage_features)
  assert sorted(feats) == ["stride2", "stride4", "stride8"]
  np.testing.assert_allclose(feats["stride8"], cnn.apply(cnn_vars, x, method=SmallCNN.features))
  enc = cfg.small_cnn().apply({"params": variables["params"]["encoder"]}, x, method=SmallCNN.stage_features)
  np.testing.assert_allclose(enc["stride4"], feats["stride4"], atol=1e-6)
  # No gradient reaches the frozen encoder; the upsamplers do get one.
  module = model_lib.build(cfg)
  g = jax.grad(lambda p: module.apply({**variables, "params": p}, x, jnp.array([0, 3]))[0].sum())(variables["params"])
  assert all(float(jnp.abs(v).max()) == 0.0 for v in jax.tree.leaves(g["encoder"]))
  assert float(jnp.abs(g["to_mask"]["kernel"]).max()) > 0.0
  m = saliency.explain(saliency.MaskingParams(variables, cfg), x, jnp.array([0, 3]))
  assert m.shape == (2, 32, 32) and bool(jnp.all((m >= 0) & (m <= 1)))
