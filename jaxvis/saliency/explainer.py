"""`explain(params, images, class_ids) -> masks`: one forward pass of a trained masking model."""

from __future__ import annotations

import functools
import json
import os
from typing import Any

import flax
import flax.serialization
import flax.struct as struct
import jax
import jax.numpy as jnp
import numpy as np

from jaxvis.data import files
from jaxvis.errors import InputError
from jaxvis.saliency import model as model_lib


@struct.dataclass
class MaskingParams:
  """A masking model's variables bundled with its (static) architecture.

  A pytree: `variables` are leaves, `config` is static aux data, so `jax.jit(explain)` works
  on it directly.
  """
  variables: dict
  config: model_lib.MaskingConfig = struct.field(pytree_node=False)


def _is_concrete(x) -> bool:
  return not isinstance(x, jax.core.Tracer)


def validate_inputs(config: model_lib.MaskingConfig, images, class_ids) -> None:
  """Clear errors for bad `images` / `class_ids` (value checks only when not traced)."""
  if getattr(images, "ndim", None) != 4:
    raise InputError("images", f"expected rank 4 (N, H, W, {config.in_channels}) NHWC, got shape "
                     f"{getattr(images, 'shape', type(images))}")
  if images.shape[-1] != config.in_channels:
    hint = " (looks channels-first: transpose to NHWC)" if images.shape[1] == config.in_channels else ""
    raise InputError("images", f"expected {config.in_channels} channels last (N, H, W, "
                     f"{config.in_channels}), got shape {images.shape}{hint}")
  if not jnp.issubdtype(images.dtype, jnp.floating):
    raise TypeError(f"images: expected a float array (preprocessed as for the black box), got {images.dtype}")
  model_lib.check_spatial_size(config, images.shape[1], images.shape[2])
  if getattr(class_ids, "ndim", None) != 1 or class_ids.shape[0] != images.shape[0]:
    raise InputError("class_ids", f"expected shape ({images.shape[0]},) (one class per image), got "
                     f"{getattr(class_ids, 'shape', type(class_ids))}")
  if not jnp.issubdtype(class_ids.dtype, jnp.integer):
    raise TypeError(f"class_ids: expected integers, got {class_ids.dtype}")
  if _is_concrete(class_ids):
    ids = np.asarray(class_ids)
    if ids.size and (ids.min() < 0 or ids.max() >= config.num_classes):
      raise InputError("class_ids", f"expected values in [0, {config.num_classes}), got min {ids.min()} "
                       f"max {ids.max()}")
  if _is_concrete(images) and not bool(jnp.all(jnp.isfinite(images))):
    raise InputError("images", "contains NaN or Inf values")


def explain(params: MaskingParams, images: jax.Array, class_ids: jax.Array,
            dtype: Any = None, features: dict | None = None) -> jax.Array:
  """Saliency masks for `class_ids` from one forward pass of the masking model.

  Pure, jittable (`jax.jit(explain, static_argnames="dtype")`) and batched.

  Args:
    params: trained `MaskingParams` (see `load` / `jaxvis.saliency.train`).
    images: (N, H, W, C) float images, preprocessed exactly as for the black-box classifier
      the model was trained against; H and W multiples of the encoder's stride.
    class_ids: (N,) int class selectors in [0, num_classes).
    dtype: compute dtype, e.g. "bfloat16"; parameters stay float32. None = float32.
    features: for an "external"-encoder model, the classifier's maps {"stride<s>": (N, h, w, K)}
      (`jaxvis.saliency.adapter.FlaxClassifier.explain` passes them).

  Returns:
    (N, H, W) float32 masks in [0, 1]; 1 = salient. Never NaN: under jit, where out-of-range
    ids or non-finite pixels cannot raise, ids are clipped and non-finite pixels read as 0.
  """
  if not isinstance(params, MaskingParams):
    raise TypeError(f"params: expected jaxvis.saliency.MaskingParams, got {type(params).__name__}")
  images = jnp.asarray(images)
  class_ids = jnp.asarray(class_ids)
  validate_inputs(params.config, images, class_ids)
  if (params.config.encoder == "external") != (features is not None):
    raise InputError("features", "required exactly when the masking model's encoder is 'external'")
  return _masks(params.variables, images, class_ids, params.config, dtype or "float32", features)


@functools.partial(jax.jit, static_argnames=("config", "dtype"))
def _masks(variables, images, class_ids, config, dtype, features=None):
  # One compiled program even when `explain` is called eagerly (inlined under an outer jit).
  images = jnp.where(jnp.isfinite(images), images, 0.0)
  class_ids = jnp.clip(class_ids, 0, config.num_classes - 1)
  masks, _ = model_lib.build(config, dtype).apply(variables, images, class_ids, train=False, features=features)
  return jnp.where(jnp.isnan(masks), 0.0, masks)


VARIABLES_FILE = "masking_variables.msgpack"


def save(directory: str, params: MaskingParams, extra: dict | None = None) -> None:
  """Writes `masking_config.json` + `masking_variables.msgpack` (what `load` and the CLI read)."""
  os.makedirs(directory, exist_ok=True)
  with open(os.path.join(directory, "masking_config.json"), "w") as f:
    json.dump({"config": params.config.to_dict(), **(extra or {})}, f, indent=1)
  variables = jax.tree.map(np.asarray, params.variables)
  with open(os.path.join(directory, VARIABLES_FILE), "wb") as f:
    f.write(flax.serialization.msgpack_serialize(variables))


def load(directory: str) -> tuple[MaskingParams, dict]:
  """Reads what `save` wrote; returns (params, the extra metadata)."""
  cfg_path = os.path.join(directory, "masking_config.json")
  if not os.path.exists(cfg_path):
    raise InputError("checkpoint", f"no masking_config.json in {directory} "
                                   "(expected the output folder of `jaxvis saliency train`)")
  meta = files.read_json(cfg_path, "masking-model config")
  files.require_keys(meta, ["config"], cfg_path)
  try:
    config = model_lib.MaskingConfig.from_dict(meta.pop("config"))
  except (TypeError, ValueError, KeyError) as e:
    raise InputError(cfg_path, f"bad masking-model config ({type(e).__name__}: {e})") from None
  variables = files.read_msgpack(os.path.join(directory, VARIABLES_FILE))
  variables = jax.tree.map(jnp.asarray, variables)
  return MaskingParams(variables=variables, config=config), meta
