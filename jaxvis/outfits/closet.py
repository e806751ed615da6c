"""A personal closet: items with their part, from images or from cached features.

Two forms are read:

* a folder of item images. Each image's part comes from its file name by the
  clothing-term dictionary (`red_wool_coat.jpg` -> outer, `ankle-boots 2.png` ->
  feet); an optional `parts.json` (`{"IMG_0412.jpg": "upper", ...}`) names or
  overrides parts. Images with no part either way are listed in `unplaced` and
  left out;
* a JSON file `{"feature_cache": DIR, "items": [{"item_id", "part", "image"?}]}`
  whose items' features are already in a `features.FeatureCache` folder.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re

import numpy as np

from jaxvis.errors import InputError
from jaxvis.outfits import features
from jaxvis.outfits import parts as parts_lib

PARTS_FILE = "parts.json"


IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")


@dataclasses.dataclass
class Closet:
  names: list[str]              # image file names or item ids
  parts: list[str]
  images: list[str]             # image paths ("" where unknown)
  feature_cache: str = ""       # set for the item-id form
  unplaced: list[str] = dataclasses.field(default_factory=list)   # images with no part

  def index_of(self, name: str, what: str = "item") -> int:
    """The closet index of an item named by file name (with or without extension) or id."""
    for n, item in enumerate(self.names):
      if name in (item, os.path.splitext(item)[0]):
        return n
    raise InputError(what, f"no closet item named {name!r}; the closet has "
                           f"{', '.join(self.names[:8])}{'...' if len(self.names) > 8 else ''}")


def _read_json(path: str):
  try:
    with open(path) as f:
      return json.load(f)
  except FileNotFoundError:
    raise InputError(path, "not found") from None
  except json.JSONDecodeError as e:
    raise InputError(path, f"not valid JSON ({e})") from None


def part_of_file_name(file_name: str) -> str | None:
  """The part a file name implies ('navy_chinos-2.jpg' -> lower), None if no clothing term."""
  stem = os.path.splitext(os.path.basename(file_name))[0]
  return parts_lib.part_of_name(re.sub(r"[_\-.]+", " ", stem))


def _load_folder(path: str) -> Closet:
  table_path = os.path.join(path, PARTS_FILE)
  table = _read_json(table_path) if os.path.isfile(table_path) else {}
  if not isinstance(table, dict):
    raise InputError(table_path, f"must map image file names to parts {list(parts_lib.PARTS)}")
  for name in table:
    if not os.path.isfile(os.path.join(path, name)):
      raise InputError(table_path, f"lists {name!r}, which is not in {path}")
  files = sorted(f for f in os.listdir(path) if f.lower().endswith(IMAGE_EXTENSIONS))
  names, parts, unplaced = [], [], []
  for f in files:
    part = table[f] if f in table else part_of_file_name(f)
    if part is None:
      unplaced.append(f)
      continue
    names.append(f)
    parts.append(parts_lib.check_part(part, f"closet: part of {f}"))
  if not names:
    raise InputError(path, "no image with a part: name files after the garment "
                           "('white_shirt.jpg') or list them in parts.json")
  return Closet(names, parts, [os.path.join(path, n) for n in names], unplaced=unplaced)


def load_closet(path: str) -> Closet:
  """Reads a closet folder (images, optional parts.json) or an item-id closet JSON file."""
  if os.path.isdir(path):
    return _load_folder(path)
  spec = _read_json(path)
  if not isinstance(spec, dict) or "items" not in spec or "feature_cache" not in spec:
    raise InputError(path, f"must be a folder of images or a JSON object with "
                           "'feature_cache' and 'items'")
  names, parts, images = [], [], []
  for n, it in enumerate(spec["items"]):
    if "item_id" not in it or "part" not in it:
      raise InputError(path, f"items[{n}] needs 'item_id' and 'part'")
    names.append(str(it["item_id"]))
    parts.append(parts_lib.check_part(it["part"], f"closet: part of item {it['item_id']}"))
    images.append(str(it.get("image", "")))
  base = os.path.dirname(os.path.abspath(path))
  return Closet(names, parts, images, os.path.join(base, spec["feature_cache"]))


def subset(closet: Closet, keep: list[int]) -> Closet:
  """The closet restricted to the items at `keep` (in that order)."""
  return dataclasses.replace(closet, names=[closet.names[i] for i in keep],
                             parts=[closet.parts[i] for i in keep],
                             images=[closet.images[i] for i in keep])


def closet_features(closet: Closet, cfg: features.FeatureConfig,
                    extractor: features.FeatureExtractor | None = None) -> np.ndarray:
  """(N, D) raw backbone features of the closet's items (cache lookup or extraction)."""
  if closet.feature_cache:
    cache = features.FeatureCache(closet.feature_cache, cfg)
    if cache.table is None:
      raise InputError("closet", f"feature cache {closet.feature_cache} is empty")
    table, row = cache.lookup(closet.names)
    return table[[row[n] for n in closet.names]]
  extractor = extractor or features.FeatureExtractor(cfg)
  images = np.stack([features.load_image(p, cfg.image_size) for p in closet.images])
  return extractor(images)
