"""Outfits (lists of item ids) -> index arrays the graders read.

Two layouts share one batch format, `{"items": (R, M) int32 row of the
feature table or -1, "parts": (R, M) int32 part id or -1}` plus `group`
(R,): the outfit each row belongs to.

* "slots" (the paper): M = 8 fixed slots (outer, upper, lower, full, feet,
  accessory x 3). An outfit that fits is one row. **Extra same-part items**
  (two tops; a fourth accessory) are not dropped: the outfit becomes
  V = max over parts of ceil(items of the part / slots of the part) rows, row j
  giving each part's slots the next items of that part in outfit order,
  cyclically (row j, part p: items j*c_p, j*c_p + 1, ... mod n_p). Every item
  is in at least one row; the outfit's score is the mean over its rows
  (`group_mean`).
* "set": one row per outfit with all its items in their given order, M = the
  longest outfit (at least `max_items`), padded with -1: no truncation.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from jaxvis.errors import InputError
from jaxvis.outfits import parts as parts_lib

_SLOTS_OF = {p: [s for s, q in enumerate(parts_lib.SLOTS) if q == p] for p in parts_lib.PARTS}


def _part(item: str, part_of: Mapping[str, str]) -> str:
  if item not in part_of:
    raise InputError("outfits", f"item {item!r} has no part (not clothing); trim such items first")
  return parts_lib.check_part(part_of[item], f"part of item {item}")


def slot_layouts(item_ids: Sequence[str], part_of: Mapping[str, str]
                 ) -> list[list[str | None]]:
  """The outfit's slot rows (see module doc): each a slot -> item id or None list."""
  by_part: dict[str, list[str]] = {p: [] for p in parts_lib.PARTS}
  for item in item_ids:
    by_part[_part(item, part_of)].append(item)
  rows = max([1] + [-(-len(v) // len(_SLOTS_OF[p])) for p, v in by_part.items()])
  out = []
  for j in range(rows):
    slots: list[str | None] = [None] * parts_lib.NUM_SLOTS
    for p, items in by_part.items():
      c = len(_SLOTS_OF[p])
      for t, s in enumerate(_SLOTS_OF[p][:min(c, len(items))]):
        slots[s] = items[(j * c + t) % len(items)]
    out.append(slots)
  return out


def encode(outfits: Sequence[Sequence[str]], part_of: Mapping[str, str],
           row_of: Mapping[str, int], layout: str = "slots", max_items: int = 8
           ) -> dict[str, np.ndarray]:
  """Encodes outfits as feature-table rows and part ids.

  Args:
    outfits: each a sequence of clothing item ids.
    part_of: item id -> part name.
    row_of: item id -> row of the item feature table.
    layout: "slots" or "set" (see module doc).
    max_items: the least M for the "set" layout (longer outfits widen it).

  Returns:
    {"items", "parts", "group"}; "group"[r] is the index in `outfits` of row r.
  """
  if layout not in ("slots", "set"):
    raise InputError("layout", f"expected 'slots' or 'set', got {layout!r}")
  if layout == "slots":
    rows, group = [], []
    for n, outfit in enumerate(outfits):
      for placed in slot_layouts(outfit, part_of):
        rows.append(placed)
        group.append(n)
    items = np.array([[row_of[i] if i is not None else -1 for i in r] for r in rows],
                     np.int32).reshape(-1, parts_lib.NUM_SLOTS)
    part_ids = np.tile(np.asarray(parts_lib.SLOT_PART_IDS, np.int32), (len(rows), 1))
    return {"items": items, "parts": part_ids, "group": np.asarray(group, np.int64)}
  m = max([int(max_items)] + [len(o) for o in outfits])
  items = np.full((len(outfits), m), -1, np.int32)
  part_ids = np.full((len(outfits), m), -1, np.int32)
  for n, outfit in enumerate(outfits):
    for s, item in enumerate(outfit):
      items[n, s] = row_of[item]
      part_ids[n, s] = parts_lib.PART_INDEX[_part(item, part_of)]
  return {"items": items, "parts": part_ids, "group": np.arange(len(outfits), dtype=np.int64)}


def group_mean(row_scores: np.ndarray, group: np.ndarray, num_outfits: int) -> np.ndarray:
  """Per-outfit mean of its rows' scores."""
  total = np.bincount(group, weights=row_scores, minlength=num_outfits)
  count = np.bincount(group, minlength=num_outfits)
  return (total / np.maximum(count, 1)).astype(np.float32)


def gather_features(table: np.ndarray, empty: np.ndarray, items: np.ndarray) -> np.ndarray:
  """(N, M) rows (-1 = empty) -> (N, M, D) features; empty slots get `empty` (the
  mean-image feature)."""
  safe = np.where(items >= 0, items, 0)
  feats = table[safe]
  return np.where((items >= 0)[..., None], feats, empty[None, None, :]).astype(np.float32)
