"""Outfit parts, the 8 grader slots, and assigning items to parts.

The paper keeps an item only if its name contains one of 121 clothing terms,
and files it under one of six parts. `CLOTHING_TERMS` is our dictionary of
that kind (the paper's list is not published); `part_of_name` applies it.
Polyvore Outfits items carry a `semantic_category` instead, mapped by
`SEMANTIC_CATEGORY_PARTS`.
"""

from __future__ import annotations

import re
from typing import Mapping

PARTS = ("outer", "upper", "lower", "full", "feet", "accessory")
PART_INDEX = {p: i for i, p in enumerate(PARTS)}

# The grader's fixed slot order: five body parts, then three accessories.
SLOTS = ("outer", "upper", "lower", "full", "feet", "accessory", "accessory", "accessory")
NUM_SLOTS = len(SLOTS)
MAX_ACCESSORIES = 3
SLOT_PART_IDS = tuple(PART_INDEX[p] for p in SLOTS)

# Clothing term -> part. Multi-word terms are matched before their last word.
CLOTHING_TERMS: dict[str, str] = {
    # outer layer
    "jacket": "outer", "coat": "outer", "blazer": "outer", "parka": "outer",
    "trench": "outer", "trenchcoat": "outer", "overcoat": "outer", "raincoat": "outer",
    "anorak": "outer", "windbreaker": "outer", "bomber": "outer", "cape": "outer",
    "poncho": "outer", "gilet": "outer", "vest": "outer", "waistcoat": "outer",
    "cardigan": "outer", "kimono": "outer", "duster": "outer", "peacoat": "outer",
    "shrug": "outer", "bolero": "outer", "puffer": "outer", "fleece": "outer",
    "outerwear": "outer",
    # upper body
    "top": "upper", "t-shirt": "upper", "tee": "upper", "tshirt": "upper", "shirt": "upper",
    "blouse": "upper", "sweater": "upper", "jumper": "upper", "pullover": "upper",
    "hoodie": "upper", "sweatshirt": "upper", "tank": "upper", "camisole": "upper",
    "cami": "upper", "tunic": "upper", "polo": "upper", "turtleneck": "upper",
    "bodysuit": "upper", "crop top": "upper", "bustier": "upper", "corset": "upper",
    "henley": "upper", "halter": "upper", "knitwear": "upper", "bralette": "upper",
    # lower body
    "jeans": "lower", "pants": "lower", "trousers": "lower", "skirt": "lower",
    "shorts": "lower", "leggings": "lower", "joggers": "lower", "chinos": "lower",
    "culottes": "lower", "sweatpants": "lower", "capris": "lower", "miniskirt": "lower",
    "midi skirt": "lower", "maxi skirt": "lower", "jeggings": "lower", "slacks": "lower",
    "cargo pants": "lower", "bermudas": "lower", "tights": "lower",
    # full body
    "dress": "full", "gown": "full", "jumpsuit": "full", "romper": "full",
    "playsuit": "full", "overalls": "full", "dungarees": "full", "sundress": "full",
    "minidress": "full", "maxi dress": "full", "catsuit": "full", "kaftan": "full",
    "caftan": "full", "unitard": "full", "swimsuit": "full", "wedding dress": "full",
    # feet
    "shoes": "feet", "shoe": "feet", "boots": "feet", "boot": "feet", "booties": "feet",
    "sneakers": "feet", "trainers": "feet", "sandals": "feet", "heels": "feet",
    "pumps": "feet", "loafers": "feet", "flats": "feet", "mules": "feet",
    "espadrilles": "feet", "slippers": "feet", "oxfords": "feet", "brogues": "feet",
    "wedges": "feet", "stilettos": "feet", "clogs": "feet", "moccasins": "feet",
    "flip flops": "feet", "slides": "feet", "ankle boots": "feet",
    # accessories
    "bag": "accessory", "handbag": "accessory", "purse": "accessory", "clutch": "accessory",
    "tote": "accessory", "backpack": "accessory", "wallet": "accessory", "satchel": "accessory",
    "hat": "accessory", "cap": "accessory", "beanie": "accessory", "beret": "accessory",
    "fedora": "accessory", "scarf": "accessory", "belt": "accessory", "sunglasses": "accessory",
    "glasses": "accessory", "necklace": "accessory", "earrings": "accessory",
    "bracelet": "accessory", "ring": "accessory", "watch": "accessory", "gloves": "accessory",
    "brooch": "accessory", "pendant": "accessory", "anklet": "accessory", "choker": "accessory",
    "headband": "accessory", "tie": "accessory", "bangle": "accessory",
}

# Polyvore Outfits `semantic_category` -> part. `None`: not clothing, dropped.
SEMANTIC_CATEGORY_PARTS: dict[str, str | None] = {
    "outerwear": "outer",
    "tops": "upper",
    "bottoms": "lower",
    "all-body": "full",
    "shoes": "feet",
    "bags": "accessory",
    "accessories": "accessory",
    "jewellery": "accessory",
    "hats": "accessory",
    "scarves": "accessory",
    "sunglasses": "accessory",
}

_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")


def _term_variants(term: str) -> list[str]:
  """The term plus simple plural/singular forms, so 'boot' also finds 'boots'."""
  forms = {term}
  if term.endswith("s"):
    forms.add(term[:-1])
  else:
    forms.add(term + "s")
    forms.add(term + "es")
  return sorted(forms)


def _build_matcher() -> dict[tuple[str, ...], str]:
  table: dict[tuple[str, ...], str] = {}
  for term, part in CLOTHING_TERMS.items():
    for form in _term_variants(term):
      key = tuple(form.split())
      table.setdefault(key, part)
  # The exact term wins over a variant of another term.
  for term, part in CLOTHING_TERMS.items():
    table[tuple(term.split())] = part
  return table


_MATCHER = _build_matcher()
_MAX_TERM_WORDS = max(len(k) for k in _MATCHER)


def part_of_name(name: str) -> str | None:
  """The part of an item from its name, or None if it has no clothing term.

  English puts the head noun last ('denim jacket', 'shirt dress', 'dress
  shoes'), so the rightmost matching term decides; at a position the longest
  term wins ('maxi skirt' over 'skirt').
  """
  if not isinstance(name, str):
    raise TypeError(f"name: expected str, got {type(name).__name__}")
  words = _WORD.findall(name.lower())
  best = None
  for start in range(len(words)):
    for n in range(min(_MAX_TERM_WORDS, len(words) - start), 0, -1):
      part = _MATCHER.get(tuple(words[start:start + n]))
      if part is not None:
        best = part
        break
  return best


def part_of_semantic_category(category: str,
                              mapping: Mapping[str, str | None] = SEMANTIC_CATEGORY_PARTS
                              ) -> str | None:
  """The part for a Polyvore Outfits `semantic_category` (None: not clothing).

  Raises:
    ValueError: for a category absent from `mapping`.
  """
  key = category.strip().lower()
  if key not in mapping:
    raise ValueError(f"semantic_category: unknown category {category!r}; "
                     f"expected one of {sorted(mapping)}")
  return mapping[key]


def check_part(part: str, what: str = "part") -> str:
  """Returns `part` if it is one of PARTS, else raises a ValueError naming `what`."""
  if part not in PART_INDEX:
    raise ValueError(f"{what}: unknown part label {part!r}; expected one of {list(PARTS)}")
  return part
