"""A trained query model on disk: the auto-encoder, the relevance function and their settings.

`save(folder, config, result, image_size)` writes `search_config.json` and
`model.msgpack`; `load(folder)` gives back what `score_images` needs to rank new
images for the same query without retraining.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Sequence

import jax.numpy as jnp
import numpy as np
from flax import serialization

from jaxvis.adjectives import relevance
from jaxvis.adjectives.search import SearchConfig, SearchResult
from jaxvis.adjectives.train import SCAEConfig, encode
from jaxvis.data import files
from jaxvis.errors import InputError

CONFIG_FILE = "search_config.json"
MODEL_FILE = "model.msgpack"


@dataclasses.dataclass(frozen=True)
class SavedQuery:
  config: SearchConfig
  params: dict
  relevance_model: relevance.RelevanceModel
  image_size: int
  query: str | None


def _to_tuples(value):
  return tuple(_to_tuples(v) for v in value) if isinstance(value, list) else value


def config_from_dict(d: dict) -> SearchConfig:
  """Inverse of `dataclasses.asdict` for `SearchConfig` (JSON lists back to tuples)."""
  d = {k: _to_tuples(v) for k, v in d.items()}
  scae = SCAEConfig(**{k: _to_tuples(v) for k, v in d.pop("scae").items()})
  return SearchConfig(scae=scae, **d)


def save(folder: str, config: SearchConfig, result: SearchResult, image_size: int,
         query: str | None = None) -> None:
  os.makedirs(folder, exist_ok=True)
  with open(os.path.join(folder, CONFIG_FILE), "w") as f:
    json.dump({"config": dataclasses.asdict(config), "image_size": int(image_size), "query": query},
              f, indent=1)
  m = result.relevance_model
  payload = {"params": result.params,
             "relevance": {k: np.asarray(getattr(m, k)) for k in relevance.RelevanceModel._fields}}
  with open(os.path.join(folder, MODEL_FILE), "wb") as f:
    f.write(serialization.msgpack_serialize(payload))


def load(folder: str) -> SavedQuery:
  path = os.path.join(folder, CONFIG_FILE)
  meta = files.read_json(path, "adjectives model config")
  files.require_keys(meta, ("config", "image_size"), path)
  try:
    config = config_from_dict(dict(meta["config"]))
  except (TypeError, KeyError, AttributeError) as e:
    raise InputError(path, f"bad search config ({type(e).__name__}: {e})") from None
  payload = files.read_msgpack(os.path.join(folder, MODEL_FILE))
  model_path = os.path.join(folder, MODEL_FILE)
  files.require_keys(payload, ("params", "relevance"), model_path)
  files.require_keys(payload["relevance"], relevance.RelevanceModel._fields, model_path)
  rel = relevance.RelevanceModel(*(jnp.asarray(payload["relevance"][k])
                                   for k in relevance.RelevanceModel._fields))
  return SavedQuery(config, payload["params"], rel, int(meta["image_size"]), meta.get("query"))


def score_images(saved: SavedQuery, images: np.ndarray) -> np.ndarray:
  """Relevance of (N, S, S, 3) float32 images in [0, 1] (S = the saved image size)."""
  images = np.asarray(images, np.float32)
  if images.ndim != 4 or images.shape[1:] != (saved.image_size, saved.image_size, 3):
    raise InputError("images", f"expected (N, {saved.image_size}, {saved.image_size}, 3), "
                               f"got {images.shape}")
  cfg = saved.config
  codes = encode(cfg.scae, saved.params, images, grid=cfg.grid, levels=cfg.feature_levels,
                 pooling=cfg.pooling)
  return np.asarray(relevance.relevance_scores(saved.relevance_model, codes))


def _name_lines(path: str):
  """(line number, base name, text after the first comma, the line) of each entry of a
  `name[,value]` file; blank lines and `#` comments are skipped."""
  with open(path, encoding="utf-8") as f:
    for n, line in enumerate(f, start=1):
      line = line.strip()
      if line and not line.startswith("#"):
        name, sep, value = line.partition(",")
        yield n, os.path.basename(name.strip()), (value.strip() if sep else None), line


def read_truth(path: str, names: Sequence[str]) -> np.ndarray:
  """Known relevance of the named images: a file listing the truly relevant ones.

  Each non-empty line is a file name (or path; the base name is matched), optionally
  followed by `,1` / `,0`. Names not listed count as not relevant.
  """
  relevant, seen = set(), {}
  for n, name, flag, line in _name_lines(path):
    if flag not in (None, "", "0", "1"):
      raise InputError(f"{path}:{n}", f"expected 'name' or 'name,0|1', got {line!r}")
    if name in seen:
      raise InputError(f"{path}:{n}", f"{name} is listed twice (first at line {seen[name]})")
    seen[name] = n
    if flag != "0":
      relevant.add(name)
  if not seen:
    raise InputError(path, "lists no images")
  unknown = sorted(set(seen) - {os.path.basename(x) for x in names})
  if unknown:
    raise InputError(path, f"names images that are not ranked: {unknown[:5]}")
  return np.asarray([os.path.basename(x) in relevant for x in names], bool)


def read_labels(path: str, names: Sequence[str]) -> list[str]:
  """Object label of each named image from `name,label` lines (every image needs one)."""
  labels = {}
  for n, name, label, line in _name_lines(path):
    if not label:
      raise InputError(f"{path}:{n}", f"expected 'name,label', got {line!r}")
    labels[name] = label.lower()
  missing = [os.path.basename(x) for x in names if os.path.basename(x) not in labels]
  if missing:
    raise InputError(path, f"has no label for {missing[:5]}{' ...' if len(missing) > 5 else ''}")
  return [labels[os.path.basename(x)] for x in names]
