"""A personal closet: items with their part, from images or from cached features.

Two forms are read:

* a folder of item images plus `parts.json` mapping each image file name to a
  part (`{"shirt.jpg": "upper", ...}`);
* a JSON file `{"feature_cache": DIR, "items": [{"item_id", "part", "image"?}]}`
  whose items' features are already in a `features.FeatureCache` folder.
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np

from jaxvis.outfits import features
from jaxvis.outfits import parts as parts_lib

PARTS_FILE = "parts.json"


@dataclasses.dataclass
class Closet:
  names: list[str]              # image file names or item ids
  parts: list[str]
  images: list[str]             # image paths ("" where unknown)
  feature_cache: str = ""       # set for the item-id form


def _read_json(path: str):
  try:
    with open(path) as f:
      return json.load(f)
  except FileNotFoundError:
    raise ValueError(f"closet: {path} not found") from None
  except json.JSONDecodeError as e:
    raise ValueError(f"closet: {path} is not valid JSON ({e})") from None


def load_closet(path: str) -> Closet:
  """Reads a closet folder (images + parts.json) or an item-id closet JSON file."""
  if os.path.isdir(path):
    table = _read_json(os.path.join(path, PARTS_FILE))
    if not isinstance(table, dict) or not table:
      raise ValueError(f"closet: {os.path.join(path, PARTS_FILE)} must map image file names to "
                       f"parts {list(parts_lib.PARTS)}")
    names = sorted(table)
    parts = [parts_lib.check_part(table[n], f"closet: part of {n}") for n in names]
    images = [os.path.join(path, n) for n in names]
    for image in images:
      if not os.path.isfile(image):
        raise ValueError(f"closet: image {image} listed in {PARTS_FILE} does not exist")
    return Closet(names, parts, images)
  spec = _read_json(path)
  if not isinstance(spec, dict) or "items" not in spec or "feature_cache" not in spec:
    raise ValueError(f"closet: {path} must be a folder with {PARTS_FILE} or a JSON object with "
                     "'feature_cache' and 'items'")
  names, parts, images = [], [], []
  for n, it in enumerate(spec["items"]):
    if "item_id" not in it or "part" not in it:
      raise ValueError(f"closet: {path}: items[{n}] needs 'item_id' and 'part'")
    names.append(str(it["item_id"]))
    parts.append(parts_lib.check_part(it["part"], f"closet: part of item {it['item_id']}"))
    images.append(str(it.get("image", "")))
  base = os.path.dirname(os.path.abspath(path))
  return Closet(names, parts, images, os.path.join(base, spec["feature_cache"]))


def closet_features(closet: Closet, cfg: features.FeatureConfig,
                    extractor: features.FeatureExtractor | None = None) -> np.ndarray:
  """(N, D) raw backbone features of the closet's items (cache lookup or extraction)."""
  if closet.feature_cache:
    cache = features.FeatureCache(closet.feature_cache, cfg)
    if cache.table is None:
      raise ValueError(f"closet: feature cache {closet.feature_cache} is empty")
    table, row = cache.lookup(closet.names)
    return table[[row[n] for n in closet.names]]
  extractor = extractor or features.FeatureExtractor(cfg)
  images = np.stack([features.load_image(p, cfg.image_size) for p in closet.images])
  return extractor(images)
