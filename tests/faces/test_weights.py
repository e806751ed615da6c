"""The restricted loader of the mtcnn package's weights, and the Linen nets against the Keras ones."""

import io
import os
import pickle

import jax
import jax.numpy as jnp
import joblib
import numpy as np
import pytest

from jaxvis.faces import nets, weights


def test_loader_reads_the_shipped_files_exactly():
  folder = weights.mtcnn_weights_dir()
  for net in ("pnet", "rnet", "onet"):
    path = os.path.join(folder, f"{net}.lz4")
    mine = weights.load_array_list(path)
    theirs = joblib.load(path)
    assert len(mine) == len(theirs)
    for a, b in zip(mine, theirs):
      assert a.dtype == b.dtype and a.shape == b.shape
      np.testing.assert_array_equal(a, b)


def test_loader_reads_joblib_files_of_any_compression(tmp_path):
  arrays = [np.arange(6, dtype=np.float32).reshape(2, 3), np.asfortranarray(np.eye(3)),
            np.array([1, 2], ">i4")]
  for compress in (0, 3, ("lz4", 3), ("gzip", 3)):
    path = tmp_path / f"w_{compress}.pkl"
    joblib.dump(arrays, path, compress=compress)
    got = weights.load_array_list(path)
    for a, b in zip(got, arrays):
      np.testing.assert_array_equal(a, b)


class _Evil:
  def __init__(self, marker):
    self.marker = marker

  def __reduce__(self):
    return (os.system, (f"touch {self.marker}",))


def test_crafted_pickle_cannot_run_code(tmp_path):
  marker = tmp_path / "pwned"
  path = tmp_path / "evil.pkl"
  path.write_bytes(pickle.dumps([np.zeros(2), _Evil(marker)]))
  with pytest.raises(weights.WeightsFileError, match="refusing to load global"):
    weights.load_array_list(path)
  assert not marker.exists()
  # the same payload inside a genuine joblib + lz4 container
  path = tmp_path / "evil.lz4"
  joblib.dump([np.zeros(2), _Evil(marker)], path, compress=("lz4", 3))
  with pytest.raises(weights.WeightsFileError, match="refusing to load global"):
    weights.load_array_list(path)
  assert not marker.exists()
  # object arrays would need a nested pickle: refused too
  path = tmp_path / "obj.pkl"
  joblib.dump([np.array([None, 1], dtype=object)], path)
  with pytest.raises(weights.WeightsFileError):
    weights.load_array_list(path)


def test_non_weight_files_are_refused(tmp_path):
  path = tmp_path / "dict.pkl"
  joblib.dump({"a": np.zeros(2)}, path)
  with pytest.raises(weights.WeightsFileError):
    weights.load_array_list(path)
  path = tmp_path / "junk.bin"
  path.write_bytes(b"\x00\x01not a pickle")
  with pytest.raises(weights.WeightsFileError, match="not a joblib pickle"):
    weights.load_array_list(path)
  with pytest.raises(weights.WeightsFileError, match="too short"):
    weights.arrays_to_params("pnet", [np.zeros((3, 3, 3, 10))])
  with pytest.raises(FileNotFoundError, match="weights_dir"):
    weights.load_pretrained(tmp_path)


def test_params_match_linen_shapes():
  params = weights.load_pretrained()
  for net, module, shape in (("pnet", nets.PNet(), (1, 12, 12, 3)), ("rnet", nets.RNet(), (1, 24, 24, 3)),
                             ("onet", nets.ONet(), (1, 48, 48, 3))):
    init = jax.eval_shape(module.init, jax.random.key(0), jnp.zeros(shape))["params"]
    jax.tree_util.tree_map(lambda a, b: np.testing.assert_equal(np.shape(a), np.shape(b)),
                           init, params[net])


def test_nets_match_the_keras_reference():
  from mtcnn.network.onet import ONet as KerasONet
  from mtcnn.network.pnet import PNet as KerasPNet
  from mtcnn.network.rnet import RNet as KerasRNet
  from mtcnn.utils.tensorflow import load_weights

  params = weights.load_pretrained()
  rng = np.random.default_rng(0)
  cases = ((KerasPNet, "pnet", nets.PNet(), (2, 31, 45, 3)), (KerasRNet, "rnet", nets.RNet(), (3, 24, 24, 3)),
           (KerasONet, "onet", nets.ONet(), (3, 48, 48, 3)))
  for keras_cls, net, module, shape in cases:
    ref = keras_cls()
    ref.build()
    ref.set_weights(load_weights(f"{net}.lz4"))
    x = rng.uniform(-1, 1, shape).astype(np.float32)
    want = [np.asarray(t) for t in ref(x)]
    got = list(module.apply({"params": params[net]}, x))
    got[-1] = jax.nn.softmax(got[-1], axis=-1)  # Keras ends in softmax
    for g, w in zip(got, want):
      np.testing.assert_allclose(g, w, atol=2e-5)


def test_lnet_shapes_and_bad_input():
  x = jnp.zeros((2, 5, 24, 24, 3))
  v = jax.eval_shape(nets.LNet().init, jax.random.key(0), x)
  assert jax.eval_shape(nets.LNet().apply, v, x).shape == (2, 5, 2)
  assert v["params"]["fc4"]["kernel"].shape == (5 * 576, 256)
  with pytest.raises(ValueError, match="x: expected"):
    jax.eval_shape(nets.RNet().init, jax.random.key(0), jnp.zeros((1, 12, 12, 3)))
  with pytest.raises(ValueError, match="at least 12x12"):
    jax.eval_shape(nets.PNet().init, jax.random.key(0), jnp.zeros((1, 11, 30, 3)))
