"""Polyvore outfit data from a local folder, the paper's validity filter and split.

Three on-disk forms are read:

* Polyvore Outfits (Vasileva et al. 2018): `polyvore_item_metadata.json`
  (item id -> {"semantic_category", "url_name", "title", ...}), per variant
  (`nondisjoint`, `disjoint`) `{train,valid,test}.json` (lists of
  {"set_id", "items": [{"item_id", "index"}]}), `compatibility_{split}.txt`
  ("label setid_index setid_index ..."), `fill_in_blank_{split}.json`
  ({"question", "answers", "blank_position"}) and `images/<item_id>.jpg`.
* Maryland Polyvore (Han et al. 2017): `{train,valid,test}_no_dup.json`
  (lists of {"set_id", "likes", "items": [{"index", "name", "categoryid", "image", ...}]}),
  `fill_in_blank_test.json` ({"question", "answers", "blank_position"}),
  `fashion_compatibility_prediction.txt` (the README's hyphenated spellings are read too)
  and `images/<set_id>/<index>.jpg`; items keyed by the image URL's `tid`.
* Crawled sets whose items carry only names (the paper's Polyvore409k form):
  a JSON list, or JSON lines, of {"set_id", "likes", "items": [{"item_id",
  "name", "image"?, "semantic_category"? or "categoryid"?}]}; images default to
  `images/<item_id>.jpg`; a published category, where given, decides the part.

In every case the answer to a fill-in-the-blank question is the candidate from
the question's own set (the convention of both published benchmarks).
"""

from __future__ import annotations

import dataclasses
import json
import os
import urllib.parse
from typing import Hashable, Iterable, Mapping, Sequence

import numpy as np

from jaxvis.errors import InputError, at_line
from jaxvis.outfits import parts as parts_lib

SPLITS = ("train", "valid", "test")


@dataclasses.dataclass(frozen=True)
class Item:
  item_id: str
  part: str | None      # one of parts.PARTS, or None for a non-clothing item
  name: str = ""
  image: str = ""       # path of the item's image ("" when unknown)


@dataclasses.dataclass(frozen=True)
class Outfit:
  set_id: str
  item_ids: tuple[str, ...]
  likes: int | None = None


@dataclasses.dataclass(frozen=True)
class FitbQuestion:
  question: tuple[str, ...]     # item ids of the outfit with one item left out
  candidates: tuple[str, ...]   # item ids offered for the blank
  answer: int                   # index into candidates of the item from the same set
  blank_position: int


@dataclasses.dataclass
class PolyvoreData:
  """Items, outfits per split, and the published evaluation tasks."""
  items: dict[str, Item]
  outfits: dict[str, list[Outfit]]
  compatibility: dict[str, list[tuple[int, tuple[str, ...]]]] = dataclasses.field(
      default_factory=dict)
  fitb: dict[str, list[FitbQuestion]] = dataclasses.field(default_factory=dict)

  def part_of(self, item_id: str) -> str | None:
    return self.items[item_id].part


# --------------------------------------------------------------------------- files

def _load_json(path: str):
  if not os.path.isfile(path):
    raise InputError(path, "file not found")
  with open(path) as f:
    try:
      return json.load(f)
    except json.JSONDecodeError as e:
      raise InputError(path, f"not valid JSON ({e})") from None


def _field(record, key: str, path: str, where: str):
  if not isinstance(record, dict) or key not in record:
    raise InputError(path, f"{where} has no {key!r} field")
  return record[key]


def _read_compatibility(path: str, lookup: Mapping[str, str]) -> list[tuple[int, tuple[str, ...]]]:
  """Lines 'label setid_index ...' -> (label, item ids)."""
  out = []
  with open(path) as f:
    for n, line in enumerate(f, 1):
      tokens = line.split()
      if not tokens:
        continue
      if tokens[0] not in ("0", "1"):
        raise InputError(at_line(path, n), f"expected a 0/1 label first, got {tokens[0]!r}")
      out.append((int(tokens[0]), tuple(_resolve(lookup, t, path, n) for t in tokens[1:])))
  return out


def _resolve(lookup: Mapping[str, str], key: str, path: str, where) -> str:
  if key not in lookup:
    raise InputError(path, f"{where}: unknown outfit item {key!r} (expected 'setid_index' "
                     "of an outfit in the split files)")
  return lookup[key]


def _read_fitb(path: str, lookup: Mapping[str, str], answers_key: str) -> list[FitbQuestion]:
  questions = []
  for n, q in enumerate(_load_json(path)):
    where = f"question {n}"
    qs = list(_field(q, "question", path, where))
    cands = list(_field(q, answers_key, path, where))
    if not qs or not cands:
      raise InputError(path, f"{where}: empty question or answer list")
    own_set = qs[0].rsplit("_", 1)[0]
    matches = [i for i, c in enumerate(cands) if c.rsplit("_", 1)[0] == own_set]
    if len(matches) != 1:
      raise InputError(path, f"{where}: expected exactly one candidate from set {own_set}, "
                       f"found {len(matches)}")
    questions.append(FitbQuestion(
        question=tuple(_resolve(lookup, t, path, where) for t in qs),
        candidates=tuple(_resolve(lookup, t, path, where) for t in cands),
        answer=matches[0], blank_position=int(q.get("blank_position", -1))))
  return questions


# --------------------------------------------------------------------------- readers

def read_polyvore_outfits(root: str, variant: str = "nondisjoint",
                          category_parts: Mapping[str, str | None] | None = None
                          ) -> PolyvoreData:
  """Reads the Polyvore Outfits dataset from `root` (the `polyvore_outfits` folder).

  Args:
    root: folder holding `polyvore_item_metadata.json`, `images/` and `<variant>/`.
    variant: "nondisjoint" or "disjoint".
    category_parts: `semantic_category` -> part (default parts.SEMANTIC_CATEGORY_PARTS).

  Returns:
    PolyvoreData; compatibility and FITB tasks for each split whose files exist.
  """
  if variant not in ("nondisjoint", "disjoint"):
    raise InputError("variant", f"expected 'nondisjoint' or 'disjoint', got {variant!r}")
  mapping = parts_lib.SEMANTIC_CATEGORY_PARTS if category_parts is None else category_parts
  meta_path = os.path.join(root, "polyvore_item_metadata.json")
  meta = _load_json(meta_path)
  if not isinstance(meta, dict):
    raise InputError(meta_path, f"expected an object of item id -> metadata")
  items = {}
  for item_id, m in meta.items():
    category = _field(m, "semantic_category", meta_path, f"item {item_id}")
    part = parts_lib.part_of_semantic_category(category, mapping)
    name = m.get("title") or m.get("url_name") or ""
    items[str(item_id)] = Item(str(item_id), part, name,
                               os.path.join(root, "images", f"{item_id}.jpg"))
  data = PolyvoreData(items=items, outfits={})
  lookup: dict[str, str] = {}
  for split in SPLITS:
    path = os.path.join(root, variant, f"{split}.json")
    outfits = []
    for n, rec in enumerate(_load_json(path)):
      set_id = str(_field(rec, "set_id", path, f"outfit {n}"))
      ids = []
      for it in _field(rec, "items", path, f"outfit {n}"):
        item_id = str(_field(it, "item_id", path, f"outfit {n} item"))
        if item_id not in items:
          raise InputError(path, f"outfit {set_id}: item {item_id} is not in {meta_path}")
        lookup[f"{set_id}_{_field(it, 'index', path, f'outfit {n} item')}"] = item_id
        ids.append(item_id)
      outfits.append(Outfit(set_id, tuple(ids)))
    data.outfits[split] = outfits
  for split in SPLITS:
    comp = os.path.join(root, variant, f"compatibility_{split}.txt")
    if os.path.isfile(comp):
      data.compatibility[split] = _read_compatibility(comp, lookup)
    fitb = os.path.join(root, variant, f"fill_in_blank_{split}.json")
    if os.path.isfile(fitb):
      data.fitb[split] = _read_fitb(fitb, lookup, "answers")
  return data


# The authors' evaluation scripts (xthan/polyvore: fill_in_blank.sh, predict_compatibility.sh)
# and users' code name the files with underscores; the dataset README spells them otherwise.
# Both are accepted, the scripts' spelling first.
MARYLAND_FITB_FILES = ("fill_in_blank_test.json", "fill_in_the_blank_test.json")
MARYLAND_COMPATIBILITY_FILES = ("fashion_compatibility_prediction.txt",
                                "fashion-compatibility-prediction.txt")


def _first_file(root: str, names: Sequence[str]) -> str | None:
  for name in names:
    if os.path.isfile(os.path.join(root, name)):
      return os.path.join(root, name)
  return None


def maryland_item_id(item: Mapping, set_id: str) -> str:
  """The item's image `tid` (the `tid=` parameter of its "image" URL), so the same product in
  several outfits is one item; `<set_id>_<index>` when the URL has none."""
  query = urllib.parse.urlparse(str(item.get("image", ""))).query
  tid = urllib.parse.parse_qs(query).get("tid")
  return tid[0] if tid and tid[0] else f"{set_id}_{item['index']}"


def read_maryland_polyvore(root: str) -> PolyvoreData:
  """Reads the Maryland Polyvore dataset (Han et al. 2017) from `root`.

  Layout (the `polyvore.tar.gz` label files plus `images/`): `{train,valid,test}_no_dup.json`,
  the FITB questions (`fill_in_blank_test.json` or `fill_in_the_blank_test.json`:
  {"question", "answers", "blank_position"}, items named `<set_id>_<index>`), the
  compatibility outfits (`fashion_compatibility_prediction.txt` or
  `fashion-compatibility-prediction.txt`: "label setid_index ...") and
  `images/<set_id>/<index>.jpg`.

  Items are keyed by their image `tid` (see `maryland_item_id`); the evaluation files'
  `<set_id>_<index>` names are resolved to it. Parts come from `categoryid` where present
  (parts.part_of_maryland_category), else from the item name.
  """
  items: dict[str, Item] = {}
  data = PolyvoreData(items=items, outfits={})
  lookup: dict[str, str] = {}
  for split in SPLITS:
    path = os.path.join(root, f"{split}_no_dup.json")
    outfits = []
    for n, rec in enumerate(_load_json(path)):
      set_id = str(_field(rec, "set_id", path, f"outfit {n}"))
      ids = []
      for it in _field(rec, "items", path, f"outfit {set_id}"):
        index = _field(it, "index", path, f"outfit {set_id} item")
        item_id = maryland_item_id(it, set_id)
        lookup[f"{set_id}_{index}"] = item_id
        if item_id not in items:   # the first occurrence's image; the others show the same tid
          name = str(it.get("name", ""))
          part = (parts_lib.part_of_maryland_category(it["categoryid"], name)
                  if "categoryid" in it else parts_lib.part_of_name(name))
          items[item_id] = Item(item_id, part, name,
                                os.path.join(root, "images", set_id, f"{index}.jpg"))
        ids.append(item_id)
      outfits.append(Outfit(set_id, tuple(ids), rec.get("likes")))
    data.outfits[split] = outfits
  comp = _first_file(root, MARYLAND_COMPATIBILITY_FILES)
  if comp:
    data.compatibility["test"] = _read_compatibility(comp, lookup)
  fitb = _first_file(root, MARYLAND_FITB_FILES)
  if fitb:
    data.fitb["test"] = _read_fitb(fitb, lookup, "answers")
  return data


def read_crawled_sets(path: str, image_root: str | None = None) -> tuple[dict[str, Item],
                                                                         list[Outfit]]:
  """Reads crawled sets whose items carry only names (Polyvore409k form).

  Args:
    path: a JSON list or JSON-lines file of {"set_id", "likes", "items":
      [{"item_id", "name", "image"?}]}.
    image_root: folder for `<item_id>.jpg` when an item has no "image"
      (default: `images/` beside `path`).

  Returns:
    (items, outfits), every item with the part its name gives (None: not clothing).
  """
  if not os.path.isfile(path):
    raise InputError(path, "file not found")
  with open(path) as f:
    text = f.read()
  try:
    records = json.loads(text)
    if isinstance(records, dict):
      records = [records]
  except json.JSONDecodeError:
    records = []
    for n, line in enumerate(text.splitlines(), 1):
      if line.strip():
        try:
          records.append(json.loads(line))
        except json.JSONDecodeError as e:
          raise InputError(at_line(path, n), f"not valid JSON ({e})") from None
  image_root = image_root or os.path.join(os.path.dirname(path), "images")
  items: dict[str, Item] = {}
  outfits = []
  for n, rec in enumerate(records):
    set_id = str(_field(rec, "set_id", path, f"set {n}"))
    ids = []
    for it in _field(rec, "items", path, f"set {set_id}"):
      item_id = str(_field(it, "item_id", path, f"set {set_id} item"))
      name = str(_field(it, "name", path, f"set {set_id} item {item_id}"))
      image = it.get("image") or os.path.join(image_root, f"{item_id}.jpg")
      items[item_id] = Item(item_id, _crawled_part(it, name), name, image)
      ids.append(item_id)
    likes = rec.get("likes")
    outfits.append(Outfit(set_id, tuple(ids), None if likes is None else int(likes)))
  return items, outfits


def _crawled_part(item: Mapping, name: str) -> str | None:
  """A published category decides where the record has one; else the name."""
  if item.get("semantic_category"):
    mapping = parts_lib.SEMANTIC_CATEGORY_PARTS
    key = str(item["semantic_category"]).strip().lower()
    return mapping[key] if key in mapping else None
  if "categoryid" in item:
    return parts_lib.part_of_maryland_category(item["categoryid"], name)
  return parts_lib.part_of_name(name)


# --------------------------------------------------------------------------- cleaning

def clothing_only(outfit: Outfit, items: Mapping[str, Item]) -> Outfit:
  """Drops the outfit's non-clothing items (part None), as the paper trims them."""
  return dataclasses.replace(
      outfit, item_ids=tuple(i for i in outfit.item_ids if items[i].part is not None))


def is_valid_outfit(item_parts: Sequence[str], require_feet: bool = True) -> bool:
  """The paper's validity rule.

  At most one item per part except accessories (at most three), and the
  whole body covered: a full-body item, or both upper and lower body. With
  `require_feet` (default, as all three of the paper's configurations
  include feet) an outfit must also have footwear.
  """
  counts = {p: 0 for p in parts_lib.PARTS}
  for p in item_parts:
    counts[parts_lib.check_part(p, "item_parts")] += 1
  if counts["accessory"] > parts_lib.MAX_ACCESSORIES:
    return False
  if any(counts[p] > 1 for p in parts_lib.PARTS if p != "accessory"):
    return False
  covered = counts["full"] == 1 or (counts["upper"] == 1 and counts["lower"] == 1)
  return covered and (counts["feet"] == 1 or not require_feet)


def valid_outfits(outfits: Iterable[Outfit], items: Mapping[str, Item],
                  min_likes: int | None = None, require_feet: bool = True) -> list[Outfit]:
  """Trims non-clothing items and keeps valid outfits (optionally with >= min_likes)."""
  out = []
  for o in outfits:
    if min_likes is not None and (o.likes is None or o.likes < min_likes):
      continue
    o = clothing_only(o, items)
    if o.item_ids and is_valid_outfit([items[i].part for i in o.item_ids], require_feet):
      out.append(o)
  return out


# --------------------------------------------------------------------------- split

def disjoint_split(outfits: Sequence[Sequence[Hashable]], seed: int = 0
                   ) -> tuple[list[int], list[int], list[int]]:
  """The paper's Algorithm 1: splits outfits so that A and B share no item.

  Outfits are visited in an order shuffled by `seed` (the first one seeds A).
  An outfit sharing items with both A and B goes to C (discarded by the
  paper); one sharing only with A (B) joins A (B); a new one joins B while
  |A| / 2 > |B|, else A, which makes B about a third of A + B.

  Args:
    outfits: a list of outfits, each a list of hashable item ids.
    seed: shuffles the visiting order.

  Returns:
    (a, b, c): lists of indices into `outfits`, each in visiting order.
  """
  if isinstance(outfits, (str, bytes)) or not isinstance(outfits, Sequence):
    raise TypeError(f"outfits: expected a list of lists of item ids, got {type(outfits).__name__}")
  item_sets = []
  for n, o in enumerate(outfits):
    if isinstance(o, (str, bytes)) or not isinstance(o, Iterable):
      raise TypeError(f"outfits[{n}]: expected a list of item ids, got {type(o).__name__}")
    item_sets.append(set(o))
  order = np.random.default_rng(seed).permutation(len(item_sets))
  a: list[int] = []
  b: list[int] = []
  c: list[int] = []
  items_a: set = set()
  items_b: set = set()
  for k, idx in enumerate(order):
    items = item_sets[idx]
    if k == 0:
      a.append(int(idx))
      items_a |= items
      continue
    in_a = not items.isdisjoint(items_a)
    in_b = not items.isdisjoint(items_b)
    if in_a and in_b:
      c.append(int(idx))
    elif in_a or (not in_b and len(a) / 2 <= len(b)):
      a.append(int(idx))
      items_a |= items
    else:
      b.append(int(idx))
      items_b |= items
  return a, b, c
