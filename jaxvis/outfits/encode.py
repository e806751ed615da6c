"""Outfits (lists of item ids) -> index arrays the graders read.

Two layouts share one batch format, `{"items": (N, M) int32 row of the
feature table or -1, "parts": (N, M) int32 part id or -1}`:

* "slots" (the paper): M = 8 fixed slots (outer, upper, lower, full, feet,
  accessory x 3); an item goes to the first free slot of its part and items
  that find no free slot are dropped (counted).
* "set": the outfit's items in their given order, up to M, padded with -1.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from jaxvis.outfits import parts as parts_lib


def slot_items(item_ids: Sequence[str], part_of: Mapping[str, str]
               ) -> tuple[list[str | None], int]:
  """Places items in the 8 slots. Returns (slot -> item id or None, dropped count)."""
  slots: list[str | None] = [None] * parts_lib.NUM_SLOTS
  dropped = 0
  for item in item_ids:
    part = parts_lib.check_part(part_of[item], f"part of item {item}")
    for s, slot_part in enumerate(parts_lib.SLOTS):
      if slot_part == part and slots[s] is None:
        slots[s] = item
        break
    else:
      dropped += 1
  return slots, dropped


def encode(outfits: Sequence[Sequence[str]], part_of: Mapping[str, str],
           row_of: Mapping[str, int], layout: str = "slots", max_items: int = 8
           ) -> tuple[dict[str, np.ndarray], int]:
  """Encodes outfits as feature-table rows and part ids.

  Args:
    outfits: each a sequence of item ids.
    part_of: item id -> part name.
    row_of: item id -> row of the item feature table.
    layout: "slots" or "set" (see module doc).
    max_items: M for the "set" layout.

  Returns:
    ({"items", "parts"}, number of items dropped for lack of room).
  """
  if layout not in ("slots", "set"):
    raise ValueError(f"layout: expected 'slots' or 'set', got {layout!r}")
  m = parts_lib.NUM_SLOTS if layout == "slots" else int(max_items)
  items = np.full((len(outfits), m), -1, np.int32)
  part_ids = np.full((len(outfits), m), -1, np.int32)
  dropped = 0
  for n, outfit in enumerate(outfits):
    if layout == "slots":
      placed, d = slot_items(outfit, part_of)
      dropped += d
      for s, item in enumerate(placed):
        part_ids[n, s] = parts_lib.SLOT_PART_IDS[s]
        if item is not None:
          items[n, s] = row_of[item]
    else:
      dropped += max(0, len(outfit) - m)
      for s, item in enumerate(outfit[:m]):
        items[n, s] = row_of[item]
        part_ids[n, s] = parts_lib.PART_INDEX[parts_lib.check_part(part_of[item],
                                                                  f"part of item {item}")]
  return {"items": items, "parts": part_ids}, dropped


def gather_features(table: np.ndarray, empty: np.ndarray, items: np.ndarray) -> np.ndarray:
  """(N, M) rows (-1 = empty) -> (N, M, D) features; empty slots get `empty` (the
  mean-image feature)."""
  safe = np.where(items >= 0, items, 0)
  feats = table[safe]
  return np.where((items >= 0)[..., None], feats, empty[None, None, :]).astype(np.float32)
