"""No-learning colour baselines for the compatibility and FITB tasks.

A benchmark means something only if these stay near chance on it:

* hue: an outfit scores the mean resultant length of its items' mean hues
  (saturation-weighted circular mean per item): 1 when all items share a hue,
  ~0 when hues spread around the circle.
* histogram: the mean pairwise intersection of the items' HSV colour histograms
  (8 hue x 3 saturation x 3 value bins over garment pixels).

Garment pixels are the pixels that are not near-white background.
"""

from __future__ import annotations

import itertools
from typing import Mapping, Sequence

import numpy as np

from jaxvis.outfits import features, metrics

HUE_BINS, SAT_BINS, VAL_BINS = 8, 3, 3


def _hsv(rgb: np.ndarray) -> np.ndarray:
  """(N, 3) uint8 RGB -> (N, 3) HSV in [0, 1)."""
  x = rgb.astype(np.float32) / 255.0
  mx, mn = x.max(-1), x.min(-1)
  delta = mx - mn
  safe = np.where(delta > 0, delta, 1.0)
  r, g, b = x[:, 0], x[:, 1], x[:, 2]
  h = np.where(mx == r, ((g - b) / safe) % 6, np.where(mx == g, (b - r) / safe + 2,
                                                       (r - g) / safe + 4)) / 6.0
  h = np.where(delta > 0, h, 0.0)
  s = np.where(mx > 0, delta / np.where(mx > 0, mx, 1.0), 0.0)
  return np.stack([h % 1.0, s, mx], -1)


def item_colour(path: str, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
  """(unit hue vector scaled by mean saturation (2,), normalised HSV histogram (72,))."""
  img = features.load_image(path, size).reshape(-1, 3)
  garment = img.min(-1) < 235
  pixels = img[garment] if garment.any() else img
  hsv = _hsv(pixels)
  angle = 2 * np.pi * hsv[:, 0]
  hue = np.array([np.sum(hsv[:, 1] * np.cos(angle)), np.sum(hsv[:, 1] * np.sin(angle))])
  hue /= max(len(hsv), 1)
  idx = (np.minimum((hsv[:, 0] * HUE_BINS).astype(int), HUE_BINS - 1) * SAT_BINS * VAL_BINS
         + np.minimum((hsv[:, 1] * SAT_BINS).astype(int), SAT_BINS - 1) * VAL_BINS
         + np.minimum((hsv[:, 2] * VAL_BINS).astype(int), VAL_BINS - 1))
  hist = np.bincount(idx, minlength=HUE_BINS * SAT_BINS * VAL_BINS).astype(np.float64)
  return hue, hist / max(hist.sum(), 1.0)


def hue_score(hues: Sequence[np.ndarray]) -> float:
  """Mean resultant length of the items' mean-hue directions (1: one hue)."""
  units = [h / n for h in hues if (n := np.linalg.norm(h)) > 1e-9]
  if not units:
    return 0.0
  return float(np.linalg.norm(np.mean(units, 0)))


def histogram_score(hists: Sequence[np.ndarray]) -> float:
  """Mean pairwise histogram intersection (1: identical colour distributions)."""
  pairs = list(itertools.combinations(hists, 2))
  if not pairs:
    return 1.0
  return float(np.mean([np.minimum(a, b).sum() for a, b in pairs]))


BASELINES = {"hue": (0, hue_score), "histogram": (1, histogram_score)}


def evaluate_baselines(data, split: str = "test", size: int = 64
                       ) -> dict[str, dict[str, float]]:
  """Compatibility AUC and FITB accuracy of each baseline on `split` of a PolyvoreData,
  with the graders' trimming of non-clothing items."""
  part_of = {i: it.part for i, it in data.items.items() if it.part is not None}
  comp = data.compatibility.get(split, [])
  fitb = data.fitb.get(split, [])
  needed = {i for _, ids in comp for i in ids} | {
      i for q in fitb for i in q.question + q.candidates}
  colour: Mapping[str, tuple] = {i: item_colour(data.items[i].image, size)
                                 for i in sorted(needed) if i in part_of}
  out: dict[str, dict[str, float]] = {}
  for name, (k, fn) in BASELINES.items():
    res: dict[str, float] = {}
    if comp:
      scored = [(lab, [colour[i][k] for i in ids if i in colour]) for lab, ids in comp]
      scored = [(lab, c) for lab, c in scored if c]
      res["compatibility_auc"] = metrics.auc([fn(c) for _, c in scored],
                                             [lab for lab, _ in scored])
    if fitb:
      per_q = []
      for q in fitb:
        base = [colour[i][k] for i in q.question if i in colour]
        per_q.append([fn(base + ([colour[c][k]] if c in colour else [])) for c in q.candidates])
      res["fitb_accuracy"] = metrics.fitb_accuracy(per_q, [q.answer for q in fitb])
    out[name] = res
  return out
