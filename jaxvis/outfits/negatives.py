"""Negative outfits: the paper's same-part swaps within one split's item pool."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from jaxvis.errors import InputError


def part_pools(outfits: Sequence[Sequence[str]], part_of: Mapping[str, str]
               ) -> dict[str, list[str]]:
  """Items of a split grouped by part, each list sorted (deterministic sampling)."""
  pools: dict[str, set[str]] = {}
  for outfit in outfits:
    for item in outfit:
      pools.setdefault(part_of[item], set()).add(item)
  return {p: sorted(s) for p, s in pools.items()}


def make_negatives(outfits: Sequence[Sequence[str]], part_of: Mapping[str, str], seed: int = 0,
                   per_positive: int = 2) -> list[tuple[str, ...]]:
  """Negatives by replacing every item with a random item of the same part.

  For each positive outfit the paper makes two copies and swaps their items
  for random items of the same parts drawn from the same split's pool, which
  keeps the split disjoint and the outfits' compositions (number of items,
  parts present) identical between positives and negatives. A replacement
  differs from the item it replaces whenever the pool has another item of
  that part, and an outfit never receives the same item twice.

  Args:
    outfits: positive outfits of one split, each a sequence of item ids.
    part_of: item id -> part.
    seed: sampling seed.
    per_positive: negatives per positive (the paper: 2).

  Returns:
    `per_positive * len(outfits)` outfits, the negatives of outfit i at
    positions `i * per_positive ...`.
  """
  if per_positive < 1:
    raise InputError("per_positive", f"expected >= 1, got {per_positive}")
  pools = part_pools(outfits, part_of)
  rng = np.random.default_rng(seed)
  negatives = []
  for outfit in outfits:
    for _ in range(per_positive):
      chosen: list[str] = []
      for item in outfit:
        pool = pools[part_of[item]]
        banned = set(chosen) | {item}
        if len(set(pool) - banned) == 0:
          banned = set(chosen)
        chosen.append(_draw(pool, banned, rng))
      negatives.append(tuple(chosen))
  return negatives


def _draw(pool: Sequence[str], banned: set[str], rng: np.random.Generator) -> str:
  """A uniform draw from `pool` minus `banned` (rejection first; exact fallback)."""
  for _ in range(16):
    pick = pool[int(rng.integers(len(pool)))]
    if pick not in banned:
      return pick
  allowed = [p for p in pool if p not in banned]
  if not allowed:
    return pool[int(rng.integers(len(pool)))]
  return allowed[int(rng.integers(len(allowed)))]
