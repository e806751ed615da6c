"""Beam search over a closet's outfits for graders that do not decompose (attention).

Self-attention mixes every pair of items, so an outfit's score is not a sum of
per-item terms and the exact top-k needs every outfit scored (`naive_top_k`).
Beam search builds outfits part by part instead: for each configuration, the
`beam` best partial outfits (scored by the grader on the items chosen so far,
the rest masked out) are extended by every item of the next part; then 0-3
accessories are added the same way, each outfit with 0, 1, 2 or 3 accessories
entering the final pool. Cost: about beam x items-per-part grader calls per
step instead of the product of all parts. It is a heuristic: `beam_gap`
measures how far its top-k is from the exact one on closets small enough to
enumerate.
"""

from __future__ import annotations

from typing import Sequence

import jax.numpy as jnp
import numpy as np

from jaxvis.outfits import recommend
from jaxvis.errors import InputError

_ACC = list(recommend._ACC_SLOTS)


def beam_top_k(model, variables, feats, mean_feature, part_labels: Sequence[str], k: int = 10,
               beam: int = 64, messages: list[str] | None = None, include: Sequence[int] = (),
               exclude: Sequence[int] = (), batch_size: int = 256) -> list[recommend.Outfit]:
  """Approximate top-k outfits by beam search (any grader; see module doc)."""
  if beam < 1:
    raise InputError("beam", f"expected >= 1, got {beam}")
  cp = recommend.closet_parts(part_labels, include, exclude)
  score = recommend.make_naive_scorer(model, batch_size)
  feats = jnp.asarray(feats, jnp.float32)
  mean = jnp.asarray(mean_feature, jnp.float32)
  skipped = dict(recommend.fillable(cp))
  if messages is not None:
    messages.extend(skipped.values())
  acc = cp.by_part["accessory"]
  required = [int(acc[r]) for r in cp.required_accessories]
  found: dict[tuple, recommend.Outfit] = {}
  for c, config in enumerate(recommend.CONFIGURATIONS):
    if c in skipped:
      continue
    rows = np.full((1, 8), -1, np.int64)
    for part in config:
      slot = recommend.BODY_SLOTS.index(part)
      items = cp.by_part[part]
      rows = np.repeat(rows, len(items), 0)
      rows[:, slot] = np.tile(items, len(rows) // len(items))
      rows = _best(score, variables, feats, mean, rows, beam)[0]
    # accessories in closet order (a set is one outfit); required ones first
    if required:
      rows = rows.copy()
      rows[:, _ACC[:len(required)]] = required
    level = rows
    for n_acc in range(len(required), 4):
      kept, s = _best(score, variables, feats, mean, level, max(beam, k))
      for row, v in zip(kept, s):
        key = (c, tuple(int(i) for i in row if i >= 0))
        if key not in found:
          found[key] = recommend.Outfit(c, key[1], float(v))
      if n_acc == 3:
        break
      level = _extend(kept, acc, n_acc, required)
      if not len(level):
        break
  return sorted(found.values(), key=lambda o: -o.score)[:k]


def _best(score, variables, feats, mean, rows, n):
  s = score(variables, feats, mean, rows)
  order = np.argsort(-s, kind="stable")[:n]
  return rows[order], s[order]


def _extend(rows, acc, n_acc: int, required: list[int]) -> np.ndarray:
  """Each row plus one more accessory after its last free (non-required) one."""
  out = []
  pos = {int(a): j for j, a in enumerate(acc)}
  for row in rows:
    chosen = [int(i) for i in row[_ACC[:n_acc]]]
    free = [pos[i] for i in chosen if i not in required]
    start = max(free) + 1 if free else 0
    for j in range(start, len(acc)):
      if int(acc[j]) in chosen:
        continue
      new = row.copy()
      new[_ACC[n_acc]] = acc[j]
      out.append(new)
  return np.asarray(out, np.int64).reshape(-1, 8)


def beam_gap(exact: Sequence[recommend.Outfit], approx: Sequence[recommend.Outfit]
             ) -> dict[str, float]:
  """How far a beam top-k is from the exact one: the best-score gap, the mean score gap over
  the k ranks, and the share of the exact top-k the beam found."""
  if not exact:
    raise InputError("exact", "expected at least one outfit")
  k = len(exact)
  e = np.array([o.score for o in exact])
  a = np.array([o.score for o in approx[:k]] + [0.0] * (k - len(approx[:k])))
  found = {tuple(sorted(o.items)) for o in approx}
  return {"top1_gap": float(e[0] - a[0]), "mean_gap": float(np.mean(e - a)),
          "recall": float(np.mean([tuple(sorted(o.items)) in found for o in exact]))}
