"""Weight import for `jaxvis.nn.resnet` without a model hub.

Three sources, none of which unpickles anything:
  * `from_keras(model)`: an in-memory `keras.applications.ResNet50/101/152` (variant "v1").
  * `load_keras_h5(path)`: the published Keras HDF5 weight layout
    (`resnet50_weights_tf_dim_ordering_tf_kernels*.h5`: a group per layer with a
    `weight_names` attribute), read with h5py.
  * `load_safetensors(path)`: torchvision/timm-style state dicts (variant "v1.5").
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
