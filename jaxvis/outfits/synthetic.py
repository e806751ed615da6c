"""A synthetic Polyvore Outfits dataset whose compatibility follows a visual rule.

Every item is a rendered garment (a silhouette per part on a white ground,
solid or striped) in a colour from one of `num_palettes` hue families. The
rule: **an outfit is compatible iff all its items share one hue family.**
Positive outfits draw all items from one family; the compatibility files'
negatives swap items for random same-part items (redrawn until the outfit
breaks the rule), and fill-in-the-blank distractors come from other families.

Files are written in the published Polyvore Outfits layout (see polyvore.py),
for both variants: `disjoint` outfits draw from per-split item pools,
`nondisjoint` outfits from the pool of all items.
"""

from __future__ import annotations

import colorsys
import dataclasses
import json
import os

import numpy as np
from PIL import Image, ImageDraw

from jaxvis.outfits import parts as parts_lib
from jaxvis.errors import InputError

CONFIGURATIONS = (("outer", "upper", "lower", "feet"), ("upper", "lower", "feet"),
                  ("full", "feet"))
_CATEGORY = {"outer": "outerwear", "upper": "tops", "lower": "bottoms", "full": "all-body",
             "feet": "shoes"}
_ACCESSORY_KINDS = (("bag", "bags"), ("hat", "hats"), ("necklace", "jewellery"))
_TERMS = {"outer": "jacket", "upper": "t-shirt", "lower": "trousers", "full": "dress",
          "feet": "boots"}
_PALETTE_NAMES = ("red", "green", "blue", "yellow", "purple", "teal", "orange", "pink")


@dataclasses.dataclass(frozen=True)
class SyntheticConfig:
  num_outfits: tuple[int, int, int] = (300, 60, 60)   # train, valid, test
  items_per_palette: int = 6    # per part, per split pool, per hue family
  num_palettes: int = 4
  image_size: int = 64
  seed: int = 0


def _colour(palette: int, num_palettes: int, rng: np.random.Generator) -> tuple[int, int, int]:
  hue = (palette + rng.uniform(-0.12, 0.12)) / num_palettes % 1.0
  r, g, b = colorsys.hsv_to_rgb(hue, rng.uniform(0.55, 1.0), rng.uniform(0.55, 0.95))
  return int(r * 255), int(g * 255), int(b * 255)


def render_item(part: str, kind: str, colour, striped: bool, size: int) -> Image.Image:
  """Draws one garment silhouette of `part` in `colour` on white."""
  s = size / 64.0
  img = Image.new("RGB", (size, size), (255, 255, 255))
  d = ImageDraw.Draw(img)

  def poly(points):
    d.polygon([(x * s, y * s) for x, y in points], fill=colour)

  if part == "outer":
    poly([(18, 8), (46, 8), (60, 40), (52, 42), (48, 28), (48, 60), (16, 60), (16, 28),
          (12, 42), (4, 40)])
    d.line([(32 * s, 8 * s), (32 * s, 60 * s)], fill=(40, 40, 40), width=max(1, int(s)))
  elif part == "upper":
    poly([(20, 12), (44, 12), (58, 24), (50, 30), (46, 26), (46, 52), (18, 52), (18, 26),
          (14, 30), (6, 24)])
  elif part == "lower":
    poly([(20, 8), (44, 8), (48, 58), (36, 58), (32, 24), (28, 58), (16, 58)])
  elif part == "full":
    poly([(24, 6), (40, 6), (42, 22), (54, 58), (10, 58), (22, 22)])
  elif part == "feet":
    poly([(6, 36), (18, 36), (18, 48), (30, 48), (30, 56), (6, 56)])
    poly([(34, 36), (46, 36), (46, 48), (58, 48), (58, 56), (34, 56)])
  elif kind == "bag":
    poly([(12, 26), (52, 26), (56, 56), (8, 56)])
    d.arc([20 * s, 10 * s, 44 * s, 40 * s], 180, 360, fill=colour, width=max(2, int(3 * s)))
  elif kind == "hat":
    d.ellipse([6 * s, 36 * s, 58 * s, 50 * s], fill=colour)
    poly([(20, 16), (44, 16), (46, 42), (18, 42)])
  else:
    d.arc([14 * s, 8 * s, 50 * s, 44 * s], 20, 160, fill=colour, width=max(2, int(3 * s)))
    d.ellipse([26 * s, 40 * s, 38 * s, 52 * s], fill=colour)
  if striped:
    arr = np.asarray(img).copy()
    garment = arr.min(axis=-1) < 250
    rows = (np.arange(size) // max(1, size // 16)) % 2 == 0
    arr[garment & rows[:, None]] = (arr[garment & rows[:, None]] * 0.55).astype(np.uint8)
    img = Image.fromarray(arr)
  return img


def _make_pool(split: str, cfg: SyntheticConfig, rng, meta: dict, palette_of: dict,
               out_dir: str) -> dict[tuple[str, int], list[str]]:
  """Renders one split's items; returns (part, palette) -> item ids."""
  pool: dict[tuple[str, int], list[str]] = {}
  for part in parts_lib.PARTS:
    for palette in range(cfg.num_palettes):
      for k in range(cfg.items_per_palette):
        item_id = f"{split[:2]}{part[:3]}{palette}{k:03d}"
        if part == "accessory":
          kind, category = _ACCESSORY_KINDS[k % len(_ACCESSORY_KINDS)]
        else:
          kind, category = _TERMS[part], _CATEGORY[part]
        striped = bool(rng.integers(2))
        colour = _colour(palette, cfg.num_palettes, rng)
        render_item(part, kind, colour, striped, cfg.image_size).save(
            os.path.join(out_dir, "images", f"{item_id}.jpg"), quality=95)
        name = (f"{_PALETTE_NAMES[palette % len(_PALETTE_NAMES)]} "
                f"{'striped ' if striped else ''}{kind}")
        meta[item_id] = {"url_name": name.replace(" ", "-"), "title": name, "description": "",
                         "categories": [category], "related": [], "category_id": "0",
                         "semantic_category": category}
        palette_of[item_id] = palette
        pool.setdefault((part, palette), []).append(item_id)
  return pool


def _sample_outfits(n: int, pool, cfg: SyntheticConfig, rng, prefix: str) -> list[dict]:
  outfits = []
  for k in range(n):
    palette = int(rng.integers(cfg.num_palettes))
    parts = list(CONFIGURATIONS[int(rng.integers(len(CONFIGURATIONS)))])
    parts += ["accessory"] * int(rng.integers(parts_lib.MAX_ACCESSORIES + 1))
    ids: list[str] = []
    for part in parts:
      choices = [i for i in pool[(part, palette)] if i not in ids]
      ids.append(choices[int(rng.integers(len(choices)))])
    outfits.append({"set_id": f"{prefix}{k:05d}",
                    "items": [{"item_id": i, "index": j + 1} for j, i in enumerate(ids)]})
  return outfits


def published_tasks(outfits: list[dict], part_of, rng, breaks_rule, is_distractor):
  """Compatibility lines and FITB questions in the published formats.

  Each outfit gives a positive line and a negative one (same-part swaps from the
  outfits' item pool, redrawn until `breaks_rule(item ids)`), and a FITB question
  whose three distractors are items of the blank's part with
  `is_distractor(item, blank item, outfit item ids)`.
  """
  key_of = {}
  by_part: dict[str, list[str]] = {}
  for o in outfits:
    for it in o["items"]:
      key_of.setdefault(it["item_id"], f"{o['set_id']}_{it['index']}")
      by_part.setdefault(part_of[it["item_id"]], []).append(it["item_id"])
  by_part = {p: sorted(set(v)) for p, v in by_part.items()}
  lines, fitb = [], []
  for o in outfits:
    keys = [f"{o['set_id']}_{it['index']}" for it in o["items"]]
    ids = [it["item_id"] for it in o["items"]]
    lines.append("1 " + " ".join(keys))
    while True:   # same-part swaps until the rule breaks
      neg = [by_part[part_of[i]][int(rng.integers(len(by_part[part_of[i]])))] for i in ids]
      if len(set(neg)) == len(neg) and breaks_rule(neg):
        break
    lines.append("0 " + " ".join(key_of[i] for i in neg))
    blank = int(rng.integers(len(ids)))
    wrong = [i for i in by_part[part_of[ids[blank]]] if is_distractor(i, ids[blank], ids)]
    if len(wrong) < 3:   # too few distractors in this split: no question for this outfit
      continue
    picks = list(rng.choice(len(wrong), size=3, replace=False))
    cands = [keys[blank]] + [key_of[wrong[p]] for p in picks]
    order = rng.permutation(4)
    fitb.append({"question": [k for j, k in enumerate(keys) if j != blank],
                 "answers": [cands[j] for j in order], "blank_position": blank + 1})
  return lines, fitb


def make_dataset(out_dir: str, cfg: SyntheticConfig = SyntheticConfig()) -> dict[str, int]:
  """Writes the dataset under `out_dir` (the `polyvore_outfits` root).

  Returns:
    item id -> hue family (the ground truth of the rule).
  """
  if cfg.num_palettes < 2 or cfg.items_per_palette < 3:
    raise InputError("cfg", "expected num_palettes >= 2 and items_per_palette >= 3 (FITB needs "
                     "three distractors of another palette and accessories need 3 items)")
  rng = np.random.default_rng(cfg.seed)
  os.makedirs(os.path.join(out_dir, "images"), exist_ok=True)
  meta: dict[str, dict] = {}
  palette_of: dict[str, int] = {}
  pools = {s: _make_pool(s, cfg, rng, meta, palette_of, out_dir)
           for s in ("train", "valid", "test")}
  write_layout(out_dir, cfg.num_outfits, pools, meta,
               lambda n, pool, prefix: _sample_outfits(n, pool, cfg, rng, prefix),
               lambda outfits, part_of: published_tasks(
                   outfits, part_of, rng,
                   breaks_rule=lambda ids: len({palette_of[i] for i in ids}) > 1,
                   is_distractor=lambda i, blank, ids: palette_of[i] != palette_of[ids[0]]))
  return palette_of


def write_layout(out_dir: str, num_outfits, pools, meta: dict, sample, tasks) -> None:
  """Writes outfits in the Polyvore Outfits layout for both variants.

  Args:
    pools: split -> {(part, group): item ids}; `disjoint` outfits draw from their split's
      pool, `nondisjoint` ones from the union.
    meta: the items' metadata (written as polyvore_item_metadata.json).
    sample: `(n, pool, set_id_prefix) -> outfits` ({"set_id", "items": [{"item_id", "index"}]}).
    tasks: `(outfits, part_of) -> (compatibility lines, FITB questions)`.
  """
  union: dict[tuple[str, int], list[str]] = {}
  for pool in pools.values():
    for key, ids in pool.items():
      union.setdefault(key, []).extend(ids)
  part_of = {i: parts_lib.part_of_semantic_category(m["semantic_category"])
             for i, m in meta.items()}
  for variant in ("disjoint", "nondisjoint"):
    os.makedirs(os.path.join(out_dir, variant), exist_ok=True)
    for split, n in zip(("train", "valid", "test"), num_outfits):
      pool = pools[split] if variant == "disjoint" else union
      outfits = sample(n, pool, f"{variant[0]}{split[:2]}")
      _write_json(os.path.join(out_dir, variant, f"{split}.json"), outfits)
      lines, fitb = tasks(outfits, part_of)
      with open(os.path.join(out_dir, variant, f"compatibility_{split}.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
      _write_json(os.path.join(out_dir, variant, f"fill_in_blank_{split}.json"), fitb)
  _write_json(os.path.join(out_dir, "polyvore_item_metadata.json"), meta)


def _write_json(path: str, obj) -> None:
  with open(path, "w") as f:
    json.dump(obj, f)
