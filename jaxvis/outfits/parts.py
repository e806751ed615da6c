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

from jaxvis.errors import InputError

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

# Words that make an item not clothing when they are its head noun (the rightmost term): beauty
# products named after garments ("top coat nail polish"), hosiery ("boot socks"), home items.
NON_CLOTHING_TERMS = (
    "polish", "nail polish", "top coat", "base coat", "lacquer", "lipstick", "lip gloss", "gloss",
    "mascara", "eyeliner", "eyeshadow", "palette", "blush", "bronzer", "foundation", "concealer",
    "primer", "perfume", "fragrance", "parfum", "cologne", "lotion", "cream", "serum", "shampoo",
    "conditioner", "sock", "socks", "stocking", "stockings", "hosiery", "candle", "pillow",
    "cushion", "mug", "vase", "lamp", "rug", "towel", "case", "sleeve case", "poster", "frame",
    "book", "notebook", "phone case", "bra", "panties", "thong", "pajamas", "robe",
)

# Maryland Polyvore (Han et al. 2017) `categoryid` -> part, from the dataset's published
# `category_id.txt`. Ids not listed are non-clothing (beauty, home, food...), except the generic
# ones in MARYLAND_GENERIC_CATEGORIES, where the item name decides.
MARYLAND_CATEGORY_PARTS: dict[int, str] = {
    **dict.fromkeys((23, 24, 25, 26, 236, 256, 276, 277, 289, 4455, 4456, 4457, 1607), "outer"),
    **dict.fromkeys((11, 15, 17, 18, 19, 21, 104, 247, 252, 272, 273, 275, 286, 309, 341, 342,
                     343, 4454, 4495, 4496, 4497, 4498, 4517), "upper"),
    **dict.fromkeys((7, 8, 9, 10, 27, 28, 29, 237, 238, 239, 240, 241, 251, 253, 254, 255, 278,
                     279, 280, 287, 288, 310, 332, 4452, 4458, 4459, 4518), "lower"),
    **dict.fromkeys((3, 4, 5, 6, 243, 244, 1605, 1606, 4516), "full"),
    **dict.fromkeys((41, 42, 43, 46, 47, 48, 49, 50, 261, 262, 263, 264, 265, 266, 267, 268, 291,
                     292, 293, 294, 295, 296, 297, 298, 4464, 4465, 4522), "feet"),
    **dict.fromkeys((35, 36, 37, 38, 40, 52, 53, 55, 56, 57, 58, 60, 61, 62, 64, 65, 67, 105, 106,
                     107, 258, 259, 260, 290, 300, 301, 302, 303, 304, 305, 306, 307, 318, 4426,
                     4428, 4447, 4461, 4462, 4463, 4466, 4470, 4520, 4521, 4523, 4524, 4525),
                    "accessory"),
}
# "Clothing", "Suits", "Swimwear", "Activewear", "Accessories", "Men's Fashion", "Men's
# Clothing", "Men's Activewear", "Men's Accessories": too broad to place without the name.
MARYLAND_GENERIC_CATEGORIES = frozenset((2, 30, 31, 33, 51, 71, 271, 281, 282, 285, 299))

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


_NOT_CLOTHING = "-"   # matcher value of a NON_CLOTHING_TERMS entry


def _build_matcher() -> dict[tuple[str, ...], str]:
  table: dict[tuple[str, ...], str] = {}
  for term in NON_CLOTHING_TERMS:
    table[tuple(term.split())] = _NOT_CLOTHING
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
  term wins ('maxi skirt' over 'skirt'). A rightmost non-clothing term
  (NON_CLOTHING_TERMS: 'top coat nail polish', 'boot socks') gives None.
  """
  if not isinstance(name, str):
    raise TypeError(f"name: expected str, got {type(name).__name__}")
  words = _WORD.findall(name.lower())
  best = None
  start = 0
  while start < len(words):
    step = 1
    for n in range(min(_MAX_TERM_WORDS, len(words) - start), 0, -1):
      part = _MATCHER.get(tuple(words[start:start + n]))
      if part is not None:
        best, step = part, n   # a matched term's own words are not read again ('top coat')
        break
    start += step
  return None if best == _NOT_CLOTHING else best


def part_of_maryland_category(category_id, name: str = "") -> str | None:
  """The part of a Maryland Polyvore item from its `categoryid` (the name decides for generic
  categories such as "Clothing"; None: not clothing)."""
  try:
    cid = int(category_id)
  except (TypeError, ValueError):
    return part_of_name(name)
  if cid in MARYLAND_GENERIC_CATEGORIES:
    return part_of_name(name)
  return MARYLAND_CATEGORY_PARTS.get(cid)


def part_of_semantic_category(category: str,
                              mapping: Mapping[str, str | None] = SEMANTIC_CATEGORY_PARTS
                              ) -> str | None:
  """The part for a Polyvore Outfits `semantic_category` (None: not clothing).

  Raises:
    ValueError: for a category absent from `mapping`.
  """
  key = category.strip().lower()
  if key not in mapping:
    raise InputError("semantic_category", f"unknown category {category!r}; "
                     f"expected one of {sorted(mapping)}")
  return mapping[key]


def check_part(part: str, what: str = "part") -> str:
  """Returns `part` if it is one of PARTS, else raises a ValueError naming `what`."""
  if part not in PART_INDEX:
    raise InputError(what, f"unknown part label {part!r}; expected one of {list(PARTS)}")
  return part
