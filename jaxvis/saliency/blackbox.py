"""Saving and rebuilding the black-box classifier that a masking model was trained against."""

from __future__ import annotations

import os
from typing import Callable

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np

from jaxvis.data import files
from jaxvis.errors import InputError
from jaxvis.nn.classifiers import SmallCNN

FILENAME = "black_box_variables.msgpack"


def spec_for(module: SmallCNN) -> dict:
  """JSON description of a SmallCNN (stored in the masking model's metadata)."""
  return {"kind": "SmallCNN", "num_classes": module.num_classes, "widths": list(module.widths),
          "convs_per_stage": module.convs_per_stage, "in_channels": module.in_channels,
          "group_norm": module.group_norm, "stem_stride": module.stem_stride,
          "standardize": module.standardize}


def save_black_box(directory: str, variables) -> None:
  os.makedirs(directory, exist_ok=True)
  with open(os.path.join(directory, FILENAME), "wb") as f:
    f.write(flax.serialization.msgpack_serialize(jax.tree.map(np.asarray, variables)))


def load_black_box(directory: str, spec: dict) -> tuple[SmallCNN, dict]:
  """Rebuilds the classifier described by `spec` and loads its variables from `directory`."""
  if spec.get("kind") != "SmallCNN":
    raise InputError("black_box", f"only 'SmallCNN' black boxes are stored with a checkpoint, got {spec.get('kind')!r}")
  path = os.path.join(directory, FILENAME)
  module = SmallCNN(spec["num_classes"], widths=tuple(spec["widths"]),
                    convs_per_stage=spec.get("convs_per_stage", 2), in_channels=spec.get("in_channels", 3),
                    group_norm=spec.get("group_norm", True), stem_stride=spec.get("stem_stride", 1),
                    standardize=spec.get("standardize", False))
  variables = jax.tree.map(jnp.asarray, files.read_msgpack(path))
  return module, variables


def as_function(module: SmallCNN, variables) -> Callable[[jax.Array], jax.Array]:
  return lambda images: module.apply(variables, images)
