"""`resnet_import.load_torch_checkpoint`: torch zip checkpoints read without torch, no code run.

torch is not installed here, so the files are written in the `torch.save` zip layout by
hand: `<name>/data.pkl` (protocol-2 pickle naming `torch._utils._rebuild_tensor_v2`, the
`torch.<X>Storage` classes, `collections.OrderedDict`, and storages as persistent ids
`("storage", <X>Storage, key, location, numel)`), `<name>/data/<key>` (raw little-endian
storage bytes), `<name>/version` and `<name>/byteorder`.
"""

import collections
import io
import os
import pickle
import sys
import types
import zipfile

import jax
import numpy as np
import pytest

from jaxvis.errors import InputError
from jaxvis.nn import resnet, resnet_import


class _Storage:
  def __init__(self, kind, key, data):
    self.kind, self.key, self.data = kind, key, data


class _Tensor:
  """Pickles like a torch tensor: `_rebuild_tensor_v2(storage, offset, size, stride, ...)`."""

  def __init__(self, rebuild, storage, offset, size, stride):
    self.args = (storage, offset, size, stride, False, collections.OrderedDict())
    self.rebuild = rebuild

  def __reduce_ex__(self, protocol):
    return self.rebuild, self.args


@pytest.fixture
def fake_torch(monkeypatch):
  """A stand-in `torch` module, so pickle writes the globals torch.save writes."""
  torch = types.ModuleType("torch")
  utils = types.ModuleType("torch._utils")

  def _rebuild_tensor_v2(*args):
    raise AssertionError("never called: only pickled")

  _rebuild_tensor_v2.__module__ = "torch._utils"
  _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
  utils._rebuild_tensor_v2 = _rebuild_tensor_v2
  for name in ("FloatStorage", "LongStorage", "BFloat16Storage"):
    setattr(torch, name, type(name, (), {"__module__": "torch", "__qualname__": name}))
  torch._utils = utils
  monkeypatch.setitem(sys.modules, "torch", torch)
  monkeypatch.setitem(sys.modules, "torch._utils", utils)
  return torch


def _save(path, obj, storages, torch):
  class Pickler(pickle.Pickler):
    def persistent_id(self, o):
      if isinstance(o, _Storage):
        return ("storage", getattr(torch, o.kind), o.key, "cpu", o.data.size)
      return None

  buf = io.BytesIO()
  Pickler(buf, protocol=2).dump(obj)
  with zipfile.ZipFile(path, "w") as z:
    z.writestr("resnet/data.pkl", buf.getvalue())
    z.writestr("resnet/byteorder", "little")
    for s in storages:
      z.writestr(f"resnet/data/{s.key}", s.data.astype(s.data.dtype.newbyteorder("<")).tobytes())
    z.writestr("resnet/version", "3\n")


def _tensors(state, torch):
  """numpy state dict -> (picklable dict of _Tensor, storages), one storage per tensor."""
  rebuild = torch._utils._rebuild_tensor_v2
  out, storages = collections.OrderedDict(), []
  for n, (name, arr) in enumerate(state.items()):
    kind = "LongStorage" if arr.dtype == np.int64 else "FloatStorage"
    arr = np.array(arr, order="C")   # (ascontiguousarray would make a 0-d array 1-d)
    s = _Storage(kind, str(n), arr.ravel())
    storages.append(s)
    stride = tuple(int(x) // arr.itemsize for x in arr.strides)
    out[name] = _Tensor(rebuild, s, 0, tuple(arr.shape), stride)
  return out, storages


def test_reads_strided_views_offsets_and_dtypes(tmp_path, fake_torch):
  import ml_dtypes
  base = np.arange(24, dtype=np.float32)
  storage = _Storage("FloatStorage", "0", base)
  rebuild = fake_torch._utils._rebuild_tensor_v2
  bf = _Storage("BFloat16Storage", "2", np.array([1.5, -2.0], ml_dtypes.bfloat16))
  obj = collections.OrderedDict([
      ("w", _Tensor(rebuild, storage, 0, (2, 3, 4), (12, 4, 1))),
      ("wt", _Tensor(rebuild, storage, 0, (4, 6), (1, 4))),          # a transposed view
      ("tail", _Tensor(rebuild, storage, 20, (4,), (1,))),           # storage offset
      ("count", _Tensor(rebuild, _Storage("LongStorage", "1", np.array([7], np.int64)), 0, (),
                        ())),
      ("half", _Tensor(rebuild, bf, 0, (2,), (1,)))])
  path = str(tmp_path / "x.pth")
  _save(path, {"state_dict": obj, "epoch": 3}, [storage, obj["count"].args[0], bf], fake_torch)
  out = resnet_import.load_torch_checkpoint(path)
  sd = out["state_dict"]
  assert out["epoch"] == 3 and list(sd) == ["w", "wt", "tail", "count", "half"]
  np.testing.assert_array_equal(sd["w"], base.reshape(2, 3, 4))
  np.testing.assert_array_equal(sd["wt"], base.reshape(6, 4).T)
  np.testing.assert_array_equal(sd["tail"], [20, 21, 22, 23])
  assert sd["count"].dtype == np.int64 and int(sd["count"]) == 7
  np.testing.assert_array_equal(sd["half"].astype(np.float32), [1.5, -2.0])


def test_resnet_state_dict_round_trip(tmp_path, fake_torch):
  sys.path.insert(0, os.path.dirname(__file__))
  from test_resnet import _to_torch_names
  model = resnet.ResNetTiny(num_classes=10, variant="v1.5")
  x = jax.random.normal(jax.random.key(1), (2, 64, 64, 3))
  variables = model.init(jax.random.key(0), x)
  variables = {"params": variables["params"],
               "batch_stats": jax.tree.map(lambda v: v + 0.5, variables["batch_stats"])}
  state = {f"module.{k}": np.asarray(v, np.float32) for k, v in _to_torch_names(variables).items()}
  state["module.bn1.num_batches_tracked"] = np.array(5, np.int64)
  obj, storages = _tensors(state, fake_torch)
  path = str(tmp_path / "resnet.pth")
  _save(path, {"model": obj}, storages, fake_torch)
  loaded = resnet_import.load_pth(path)
  np.testing.assert_allclose(model.apply(loaded, x), model.apply(variables, x), atol=1e-5)


def test_refuses_any_other_global_without_running_it(tmp_path):
  marker = tmp_path / "ran"

  class Evil:
    def __reduce__(self):
      return os.system, (f"touch {marker}",)

  buf = io.BytesIO()
  pickle.Pickler(buf, protocol=2).dump({"fc.weight": Evil()})
  path = str(tmp_path / "evil.pth")
  with zipfile.ZipFile(path, "w") as z:
    z.writestr("evil/data.pkl", buf.getvalue())
  with pytest.raises(InputError, match=r"refused global (posix|os)\.system"):
    resnet_import.load_torch_checkpoint(path)
  assert not marker.exists()
  legacy = tmp_path / "legacy.pth"
  legacy.write_bytes(pickle.dumps({"a": 1}))
  with pytest.raises(InputError, match="not a torch zip checkpoint"):
    resnet_import.load_torch_checkpoint(str(legacy))
