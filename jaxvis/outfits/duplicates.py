"""Near-duplicate photos in a closet: the same garment photographed or saved twice.

Two items of the same part are near-duplicates when the distance between their
descriptors is below `ratio` times the median distance between the closet's
items: relative to the closet's own spread, the rule needs no absolute scale.
The descriptor is a 16 x 16 colour thumbnail where the photos are at hand (a
re-encoded or resized copy lands at ~3% of the median distance, where a random
backbone's pool5 moved to ~14-50%), else the item's backbone feature. Groups are
the connected components of near-duplicate pairs; the first item of a group
(closet order) is kept.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from jaxvis.outfits import features

THUMBNAIL = 16


def descriptors(images: Sequence[str], feats: np.ndarray) -> np.ndarray:
  """Thumbnails of `images` when every item has one, else `feats`."""
  if images and all(images):
    return np.stack([features.load_image(p, THUMBNAIL).astype(np.float32).ravel() / 255.0
                     for p in images])
  return np.asarray(feats, np.float32)


def near_duplicate_groups(feats: np.ndarray, ratio: float = 0.1,
                          parts: list[str] | None = None) -> list[list[int]]:
  """Groups (each of >= 2 closet indices, ascending) of near-duplicate items; with `parts`,
  only items of the same part are linked."""
  feats = np.asarray(feats, np.float64)
  n = len(feats)
  if n < 2:
    return []
  sq = (feats ** 2).sum(1)
  dist = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * feats @ feats.T, 0))
  upper = dist[np.triu_indices(n, 1)]
  threshold = ratio * float(np.median(upper))
  parent = list(range(n))

  def root(i):
    while parent[i] != i:
      parent[i] = parent[parent[i]]
      i = parent[i]
    return i

  close = dist < threshold
  if parts is not None:
    labels = np.asarray(parts)
    close &= labels[:, None] == labels[None, :]
  for i, j in zip(*np.nonzero(np.triu(close, 1))):
    parent[root(int(j))] = root(int(i))
  groups: dict[int, list[int]] = {}
  for i in range(n):
    groups.setdefault(root(i), []).append(i)
  return [g for g in groups.values() if len(g) > 1]


def keep_one_per_group(n: int, groups: list[list[int]]) -> list[int]:
  """Closet indices left when each group keeps only its first item."""
  dropped = {i for g in groups for i in g[1:]}
  return [i for i in range(n) if i not in dropped]
