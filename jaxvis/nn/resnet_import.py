"""Weight import for `jaxvis.nn.resnet` without a model hub.

Four sources; none runs pickled code:
  * `from_keras(model)`: an in-memory `keras.applications.ResNet50/101/152` (variant "v1").
  * `load_keras_h5(path)`: the published Keras HDF5 weight layout
    (`resnet50_weights_tf_dim_ordering_tf_kernels*.h5`: a group per layer with a
    `weight_names` attribute), read with h5py.
  * `load_safetensors(path)`: torchvision/timm-style state dicts (variant "v1.5").
  * `load_pth(path)`: the same state dicts saved with `torch.save` (.pth/.pt zip checkpoints),
    read by an allow-list unpickler (`load_torch_checkpoint`), without torch.
All return Flax variables `{"params": ..., "batch_stats": ...}` for the module
built with the matching `variant` and `num_classes` (None when the file has no head).
"""

from __future__ import annotations

import re

import numpy as np


def _keras_layers_to_variables(layers: dict[str, list[np.ndarray]]) -> dict:
  """Maps Keras layer names (conv1_conv, conv2_block1_1_bn, predictions, ...) to variables."""
  params, stats = {}, {}

  def conv(dst: dict, weights):
    dst["kernel"] = np.asarray(weights[0], np.float32)
    if len(weights) > 1:
      dst["bias"] = np.asarray(weights[1], np.float32)

  def bn(pdst: dict, sdst: dict, weights):
    gamma, beta, mean, var = (np.asarray(w, np.float32) for w in weights)
    pdst.update(scale=gamma, bias=beta)
    sdst.update(mean=mean, var=var)

  block_re = re.compile(r"conv(\d)_block(\d+)_(\d)_(conv|bn)$")
  local = {"1": "1", "2": "2", "3": "3", "0": "proj"}
  for name, weights in layers.items():
    if not weights:
      continue
    if name == "conv1_conv":
      conv(params.setdefault("stem_conv", {}), weights)
    elif name == "conv1_bn":
      bn(params.setdefault("stem_bn", {}), stats.setdefault("stem_bn", {}), weights)
    elif name in ("predictions", "fc1000"):
      params["head"] = {"kernel": np.asarray(weights[0], np.float32),
                        "bias": np.asarray(weights[1], np.float32)}
    else:
      m = block_re.match(name)
      if not m:
        raise ValueError(f"model: unexpected weighted layer {name!r} for a Keras ResNet")
      stage, block, idx, kind = m.groups()
      key = f"stage{int(stage) - 1}_block{block}"
      sub = "proj_" if idx == "0" else ""
      layer = f"{sub}conv" if idx == "0" else f"conv{local[idx]}"
      if kind == "conv":
        conv(params.setdefault(key, {}).setdefault(layer, {}), weights)
      else:
        bn_name = "proj_bn" if idx == "0" else f"bn{idx}"
        bn(params.setdefault(key, {}).setdefault(bn_name, {}),
           stats.setdefault(key, {}).setdefault(bn_name, {}), weights)
  if "stem_conv" not in params:
    raise ValueError("model: no 'conv1_conv' layer found; is this a Keras ResNet?")
  return {"params": params, "batch_stats": stats}


def from_keras_layers(layers: dict[str, list[np.ndarray]]) -> dict:
  """Converts `{keras layer name: layer.get_weights()}` to jaxvis variables (variant "v1")."""
  return _keras_layers_to_variables(layers)


def from_keras(model) -> dict:
  """Converts a `keras.applications.ResNet50` (or 101/152) to jaxvis variables (variant "v1")."""
  layers = {layer.name: [np.asarray(w) for w in layer.get_weights()] for layer in model.layers}
  return _keras_layers_to_variables(layers)


def load_keras_h5(path: str) -> dict:
  """Reads the published Keras HDF5 weight file layout (legacy `save_weights` format)."""
  import h5py
  with h5py.File(path, "r") as f:
    root = f["model_weights"] if "model_weights" in f else f
    if "layer_names" not in root.attrs:
      raise ValueError(f"path: {path} is not a Keras HDF5 weight file (no 'layer_names' attribute)")
    layers = {}
    for raw in root.attrs["layer_names"]:
      name = raw.decode() if isinstance(raw, bytes) else str(raw)
      group = root[name]
      names = [n.decode() if isinstance(n, bytes) else str(n) for n in group.attrs["weight_names"]]
      layers[name] = [np.asarray(group[n]) for n in names]
  return _keras_layers_to_variables(layers)


def load_safetensors(path: str) -> dict:
  """Reads a torchvision/timm ResNet state dict saved as safetensors (variant "v1.5")."""
  from safetensors.numpy import load_file
  return torch_state_dict_to_variables(load_file(path))


def torch_state_dict_to_variables(state: dict[str, np.ndarray]) -> dict:
  """Maps torchvision names (conv1, bn1, layerI.J.convK, downsample, fc) to variables."""
  params, stats = {}, {}

  def conv(dst: dict, prefix: str):
    dst["kernel"] = np.transpose(state[f"{prefix}.weight"], (2, 3, 1, 0)).astype(np.float32)  # OIHW->HWIO

  def bn(pdst: dict, sdst: dict, prefix: str):
    pdst.update(scale=state[f"{prefix}.weight"].astype(np.float32),
                bias=state[f"{prefix}.bias"].astype(np.float32))
    sdst.update(mean=state[f"{prefix}.running_mean"].astype(np.float32),
                var=state[f"{prefix}.running_var"].astype(np.float32))

  if "conv1.weight" not in state:
    raise ValueError("path: no 'conv1.weight' tensor; is this a torchvision/timm ResNet state dict?")
  conv(params.setdefault("stem_conv", {}), "conv1")
  bn(params.setdefault("stem_bn", {}), stats.setdefault("stem_bn", {}), "bn1")
  blocks = sorted({tuple(int(v) for v in m.groups())
                   for k in state for m in [re.match(r"layer(\d)\.(\d+)\.", k)] if m})
  for stage, block in blocks:
    src = f"layer{stage}.{block}"
    key = f"stage{stage}_block{block + 1}"
    for k in (1, 2, 3):
      if f"{src}.conv{k}.weight" in state:
        conv(params.setdefault(key, {}).setdefault(f"conv{k}", {}), f"{src}.conv{k}")
        bn(params[key].setdefault(f"bn{k}", {}), stats.setdefault(key, {}).setdefault(f"bn{k}", {}),
           f"{src}.bn{k}")
    if f"{src}.downsample.0.weight" in state:
      conv(params[key].setdefault("proj_conv", {}), f"{src}.downsample.0")
      bn(params[key].setdefault("proj_bn", {}), stats[key].setdefault("proj_bn", {}),
         f"{src}.downsample.1")
  if "fc.weight" in state:
    params["head"] = {"kernel": state["fc.weight"].T.astype(np.float32),
                      "bias": state["fc.bias"].astype(np.float32)}
  return {"params": params, "batch_stats": stats}


# --------------------------------------------------------------------------- torch .pth / .pt

# Storage classes a torch zip checkpoint names (legacy typed storages, as `torch.save` writes
# them) -> numpy dtype; bfloat16 comes through ml_dtypes (a JAX dependency).
_TORCH_STORAGE_DTYPES = {
    "FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
    "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8", "BoolStorage": "bool",
}


class _StorageType:
  """Stands in for a `torch.<X>Storage` class: only its dtype is used."""

  def __init__(self, dtype):
    self.dtype = dtype


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False,
                    backward_hooks=None, metadata=None):
  """`torch._utils._rebuild_tensor_v2` for numpy: a strided view of the storage, copied."""
  del requires_grad, backward_hooks, metadata
  size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
  if any(s < 0 for s in size + stride) or storage_offset < 0:
    raise ValueError("negative tensor size, stride or offset in the checkpoint")
  extent = storage_offset + sum((n - 1) * s for n, s in zip(size, stride)) + 1 if all(size) else 0
  if extent > len(storage):
    raise ValueError(f"tensor of size {size} reaches past its storage ({len(storage)} elements)")
  base = storage[storage_offset:]
  return np.lib.stride_tricks.as_strided(
      base, size, tuple(s * storage.itemsize for s in stride), writeable=False).copy()


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
  del requires_grad, backward_hooks
  return data


def load_torch_checkpoint(path: str) -> dict:
  """Reads a `torch.save` zip checkpoint (.pth / .pt) into numpy arrays without torch and
  without executing pickled code.

  The pickle is read by an unpickler that resolves only an allow-list of globals: the tensor
  and parameter rebuild functions, the typed-storage classes and `collections.OrderedDict`;
  any other global (a function or class a malicious file names) is refused before anything
  runs. Storages are read from the archive's `<name>/data/<key>` entries.

  Returns:
    The unpickled object with every tensor as a numpy array (usually a state dict).

  Raises:
    InputError: not a zip checkpoint (legacy torch format), or a refused global.
  """
  import collections
  import io
  import pickle
  import zipfile

  from jaxvis.errors import InputError
  if not zipfile.is_zipfile(path):
    raise InputError(path, "not a torch zip checkpoint (torch >= 1.6 `torch.save`); re-save it "
                           "with a recent torch or convert it to .safetensors")
  allowed = {("collections", "OrderedDict"): collections.OrderedDict,
             ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
             ("torch._utils", "_rebuild_parameter"): _rebuild_parameter}
  with zipfile.ZipFile(path) as archive:
    pkl = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
    if len(pkl) != 1:
      raise InputError(path, "zip archive without exactly one data.pkl: not a torch checkpoint")
    prefix = pkl[0][:-len("data.pkl")]
    byteorder = "little"
    if f"{prefix}byteorder" in archive.namelist():
      byteorder = archive.read(f"{prefix}byteorder").decode().strip()

    class Unpickler(pickle.Unpickler):
      def find_class(self, module, name):
        if (module, name) in allowed:
          return allowed[(module, name)]
        if module == "torch" and name in _TORCH_STORAGE_DTYPES:
          return _StorageType(name)
        raise pickle.UnpicklingError(f"refused global {module}.{name} (only tensor data is read)")

      def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
          raise pickle.UnpicklingError(f"unexpected persistent id {pid!r:.80}")
        dtype = _TORCH_STORAGE_DTYPES[pid[1].dtype]
        if dtype == "bfloat16":
          import ml_dtypes
          dtype = ml_dtypes.bfloat16
        dtype = np.dtype(dtype).newbyteorder("<" if byteorder == "little" else ">")
        raw = archive.read(f"{prefix}data/{pid[2]}")
        return np.frombuffer(raw, dtype).astype(dtype.newbyteorder("="))

    try:
      return Unpickler(io.BytesIO(archive.read(pkl[0]))).load()
    except (pickle.UnpicklingError, ValueError, KeyError, EOFError) as e:
      raise InputError(path, f"unreadable torch checkpoint: {e}") from None


def load_pth(path: str) -> dict:
  """A torchvision/timm ResNet state dict saved with `torch.save` (variant "v1.5"): the dict
  itself or under "state_dict" / "model"; a DataParallel "module." prefix is dropped."""
  obj = load_torch_checkpoint(path)
  for key in ("state_dict", "model"):
    if isinstance(obj, dict) and isinstance(obj.get(key), dict):
      obj = obj[key]
  if not isinstance(obj, dict):
    raise ValueError(f"path: {path} holds a {type(obj).__name__}, not a state dict")
  state = {k[len("module."):] if k.startswith("module.") else k: np.asarray(v)
           for k, v in obj.items() if isinstance(v, np.ndarray)}
  return torch_state_dict_to_variables(state)
