"""ResNet port: parity with keras.applications.ResNet50, weight files, bad input."""

from __future__ import annotations

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from jaxvis.nn import resnet


@pytest.fixture(scope="module")
def astronaut_224():
  img = Image.fromarray(skdata.astronaut()).resize((224, 224), Image.BILINEAR)
  return np.asarray(img, np.uint8)[None]


@pytest.fixture(scope="module")
def keras_reference(astronaut_224):
  """keras.applications.ResNet50 (JAX backend) run in a child process: Keras' backend is
  per process, and the mtcnn reference in the faces tests needs Keras on TensorFlow."""
  from jaxvis.nn import keras_reference
  x = np.asarray(resnet.preprocess(astronaut_224, "caffe"))
  return x, keras_reference.run(x)


def test_matches_keras_resnet50_on_a_real_photo(keras_reference):
  x, result = keras_reference
  ref = result["keras_logits"]
  # resnet.from_keras(model) ran in the child on the live Keras model:
  assert np.abs(result["jaxvis_logits"] - ref).max() <= 1e-4
  variables = resnet.from_keras_layers(result["layers"])
  model = resnet.ResNet50()
  template = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 224, 224, 3)))
  assert jax.tree.structure(template) == jax.tree.structure(variables)
  shapes_ok = jax.tree.map(lambda t, v: t.shape == v.shape, template, variables)
  assert all(jax.tree.leaves(shapes_ok))
  logits, feats = jax.jit(lambda v, x: model.apply(v, x, return_features=True))(variables, x)
  assert np.abs(ref).max() > 1.0  # a non-degenerate reference
  assert np.abs(np.asarray(logits) - ref).max() <= 1e-4
  assert feats["stride4"].shape == (1, 56, 56, 256)
  assert feats["stride32"].shape == (1, 7, 7, 2048)
  assert feats["pool5"].shape == (1, 2048)
  np.testing.assert_allclose(feats["pool5"], np.asarray(feats["stride32"]).mean((1, 2)), rtol=1e-5)


def _write_legacy_keras_h5(layers, path):
  """Writes weights in the published Keras HDF5 layout (group per layer + weight_names)."""
  with h5py.File(path, "w") as f:
    f.attrs["layer_names"] = np.array([n.encode() for n in layers])
    for name, weights in layers.items():
      g = f.create_group(name)
      suffix = ["kernel", "bias"] if "bn" not in name else [
          "gamma", "beta", "moving_mean", "moving_variance"]
      wnames = [f"{name}/{suffix[i]}:0".encode() for i in range(len(weights))]
      g.attrs["weight_names"] = np.array(wnames)
      for n, w in zip(wnames, weights):
        g.create_dataset(n.decode(), data=w)


def test_keras_h5_layout_loads_the_same_variables(keras_reference, tmp_path):
  layers = keras_reference[1]["layers"]
  path = tmp_path / "resnet50_weights_tf_dim_ordering_tf_kernels.h5"
  _write_legacy_keras_h5(layers, path)
  a = resnet.load_keras_h5(str(path))
  b = resnet.from_keras_layers(layers)
  assert jax.tree.structure(a) == jax.tree.structure(b)
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_array_equal(x, y)


def test_keras_h5_rejects_other_files(tmp_path):
  path = tmp_path / "x.h5"
  with h5py.File(path, "w") as f:
    f.create_dataset("a", data=np.zeros(3))
  with pytest.raises(ValueError, match="not a Keras HDF5 weight file"):
    resnet.load_keras_h5(str(path))


def _to_torch_names(variables) -> dict:
  """jaxvis v1.5 variables -> a torchvision-style state dict (the inverse mapping, for the test)."""
  p, s = variables["params"], variables["batch_stats"]
  out = {}

  def conv(name, kernel):
    out[f"{name}.weight"] = np.transpose(np.asarray(kernel), (3, 2, 0, 1))

  def bn(name, pp, ss):
    out[f"{name}.weight"], out[f"{name}.bias"] = np.asarray(pp["scale"]), np.asarray(pp["bias"])
    out[f"{name}.running_mean"], out[f"{name}.running_var"] = np.asarray(ss["mean"]), np.asarray(ss["var"])
    out[f"{name}.num_batches_tracked"] = np.zeros((), np.int64)

  conv("conv1", p["stem_conv"]["kernel"])
  bn("bn1", p["stem_bn"], s["stem_bn"])
  for key in p:
    if not key.startswith("stage"):
      continue
    stage, block = key[5:].split("_block")
    src = f"layer{stage}.{int(block) - 1}"
    for k in (1, 2, 3):
      conv(f"{src}.conv{k}", p[key][f"conv{k}"]["kernel"])
      bn(f"{src}.bn{k}", p[key][f"bn{k}"], s[key][f"bn{k}"])
    if "proj_conv" in p[key]:
      conv(f"{src}.downsample.0", p[key]["proj_conv"]["kernel"])
      bn(f"{src}.downsample.1", p[key]["proj_bn"], s[key]["proj_bn"])
  out["fc.weight"] = np.asarray(p["head"]["kernel"]).T
  out["fc.bias"] = np.asarray(p["head"]["bias"])
  return out


def test_safetensors_state_dict_round_trip(tmp_path):
  from safetensors.numpy import save_file
  model = resnet.ResNetTiny(num_classes=10, variant="v1.5")
  x = jax.random.normal(jax.random.key(1), (2, 64, 64, 3))
  variables = model.init(jax.random.key(0), x)
  # non-trivial running statistics, so the BN mapping is exercised
  variables = {"params": variables["params"],
               "batch_stats": jax.tree.map(lambda v: v + 0.5, variables["batch_stats"])}
  path = tmp_path / "resnet.safetensors"
  save_file(_to_torch_names(variables), str(path))
  loaded = resnet.load_safetensors(str(path))
  np.testing.assert_allclose(model.apply(loaded, x), model.apply(variables, x), atol=1e-5)
  assert "bias" not in loaded["params"]["stem_conv"]  # torchvision convs have no bias


@pytest.mark.parametrize("shape,dtype,match", [
    ((224, 224, 3), jnp.float32, "rank 4"),
    ((1, 3, 64, 64), jnp.float32, "channels-first"),
    ((1, 64, 64, 1), jnp.float32, "3 channels last"),
    ((1, 64, 64, 4), jnp.float32, "3 channels last"),
    ((1, 64, 64, 3), jnp.uint8, "float array"),
])
def test_bad_input_gets_clear_error(shape, dtype, match):
  model = resnet.ResNetTiny(num_classes=3)
  with pytest.raises((ValueError, TypeError), match=match):
    model.init(jax.random.key(0), jnp.zeros(shape, dtype))


def test_preprocess_modes_and_errors():
  img = np.full((1, 2, 2, 3), 255, np.uint8)
  caffe = np.asarray(resnet.preprocess(img, "caffe"))
  np.testing.assert_allclose(caffe[0, 0, 0], [255 - 103.939, 255 - 116.779, 255 - 123.68], rtol=1e-6)
  torch = np.asarray(resnet.preprocess(img.astype(np.float32) / 255.0, "torch"))
  np.testing.assert_allclose(torch[0, 0, 0], (1 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225]), rtol=1e-5)
  with pytest.raises(ValueError, match="mode"):
    resnet.preprocess(img, "tf")
  with pytest.raises(ValueError, match="images"):
    resnet.preprocess(img[..., :1], "caffe")


def test_bfloat16_compute_keeps_float32_params_and_is_close():
  model32 = resnet.ResNetTiny(num_classes=5)
  model16 = resnet.ResNetTiny(num_classes=5, dtype=jnp.bfloat16)
  x = jax.random.normal(jax.random.key(1), (2, 64, 64, 3))
  variables = model32.init(jax.random.key(0), x)
  assert all(v.dtype == jnp.float32 for v in jax.tree.leaves(model16.init(jax.random.key(0), x)))
  a, b = model32.apply(variables, x), model16.apply(variables, x)
  assert b.dtype == jnp.float32
  assert np.abs(np.asarray(a) - np.asarray(b)).max() < 0.05 * np.abs(np.asarray(a)).max() + 0.05


def test_train_mode_updates_batch_stats_and_encoder_mode():
  model = resnet.ResNetTiny(num_classes=None)
  x = jax.random.normal(jax.random.key(1), (4, 32, 32, 3))
  variables = model.init(jax.random.key(0), x)
  (logits, feats), updates = model.apply(variables, x, train=True, return_features=True,
                                         mutable=["batch_stats"])
  assert logits is None
  assert feats["pool5"].shape == (4, resnet.feature_channels(model)["pool5"])
  before = variables["batch_stats"]["stem_bn"]["mean"]
  after = updates["batch_stats"]["stem_bn"]["mean"]
  assert np.abs(np.asarray(after) - np.asarray(before)).max() > 0
