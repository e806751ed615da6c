"""Image pair construction: each pair holds an image of P and one of Q showing similar objects.

The paper pairs images whose detected objects (Faster R-CNN) match. Here:
- with object labels (from any detector, or a dataset's annotations), images
  are paired only within the same label;
- the pairing inside a label group, or over all images when no labels are
  given, is a one-to-one matching (Hungarian, `scipy.optimize.linear_sum_assignment`)
  that maximises the summed cosine similarity of per-image features.

`object_features` is the default feature: a standardised grey-level thumbnail,
so cosine similarity is the correlation of the images' layouts, insensitive to
brightness, contrast and colour casts (the kind of change an adjective makes).
Pass any other features (e.g. ResNet pool5 from `jaxvis.nn.resnet`) instead.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import linear_sum_assignment

from jaxvis.ops import image as image_ops
from jaxvis.errors import InputError


class Pairs(NamedTuple):
  """Indices of the matched images and their similarity.

  Attributes:
    p: (M,) indices into P.
    q: (M,) indices into Q.
    similarity: (M,) cosine similarity of the pair's features.
  """
  p: np.ndarray
  q: np.ndarray
  similarity: np.ndarray


@jax.jit
def _thumbnail_features(images: jax.Array) -> jax.Array:
  grey = jnp.mean(images.astype(jnp.float32), axis=-1, keepdims=True)
  small = image_ops.resize(grey, (24, 24), antialias=True).reshape(images.shape[0], -1)
  small = small - small.mean(-1, keepdims=True)
  return small / jnp.maximum(jnp.linalg.norm(small, axis=-1, keepdims=True), 1e-6)


def object_features(images: np.ndarray | jax.Array, batch_size: int = 256) -> np.ndarray:
  """(N, H, W, C) images -> (N, 576) unit-norm standardised grey 24x24 thumbnails."""
  images = jnp.asarray(images)
  if images.ndim != 4:
    raise InputError("images", f"expected (N, H, W, C), got shape {images.shape}")
  return np.concatenate([np.asarray(_thumbnail_features(images[i:i + batch_size]))
                         for i in range(0, images.shape[0], batch_size)], 0)


@jax.jit
def cosine_similarity(x: jax.Array, y: jax.Array) -> jax.Array:
  """(N, D), (M, D) -> (N, M) cosine similarities."""
  x = x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
  y = y / jnp.maximum(jnp.linalg.norm(y, axis=-1, keepdims=True), 1e-12)
  return x @ y.T


def match_one_to_one(similarity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Maximum-total-similarity one-to-one matching of rows to columns (min(N, M) pairs)."""
  rows, cols = linear_sum_assignment(np.asarray(similarity, np.float64), maximize=True)
  return rows.astype(np.int64), cols.astype(np.int64)


def make_pairs(features_p: np.ndarray, features_q: np.ndarray, *,
               labels_p: Sequence | None = None, labels_q: Sequence | None = None,
               min_similarity: float | None = None) -> Pairs:
  """Pairs images of P with images of Q, one-to-one.

  Args:
    features_p: (|P|, D) features of P's images (e.g. `object_features`).
    features_q: (|Q|, D) features of Q's images.
    labels_p, labels_q: optional object labels per image (any hashable); when
      given, an image is only paired with an image of the same label, and images
      whose label is missing from the other set stay unpaired.
    min_similarity: drop pairs whose cosine similarity is below this.

  Returns:
    `Pairs`, sorted by index into P.
  """
  fp, fq = np.asarray(features_p, np.float32), np.asarray(features_q, np.float32)
  if fp.ndim != 2 or fq.ndim != 2 or fp.shape[1] != fq.shape[1]:
    raise InputError("features_p, features_q", f"expected (N, D) and (M, D) with the same D, "
                     f"got {fp.shape} and {fq.shape}")
  if (labels_p is None) != (labels_q is None):
    raise InputError("labels_p, labels_q", "give both or neither")
  sim = np.asarray(cosine_similarity(fp, fq))
  if labels_p is None:
    rows, cols = match_one_to_one(sim)
  else:
    labels_p, labels_q = list(labels_p), list(labels_q)
    if len(labels_p) != len(fp) or len(labels_q) != len(fq):
      raise InputError("labels_p, labels_q", f"expected {len(fp)} and {len(fq)} labels, "
                       f"got {len(labels_p)} and {len(labels_q)}")
    rows, cols = [], []
    for label in sorted(set(labels_p) & set(labels_q), key=str):
      ip = np.flatnonzero([l == label for l in labels_p])
      iq = np.flatnonzero([l == label for l in labels_q])
      r, c = match_one_to_one(sim[np.ix_(ip, iq)])
      rows.append(ip[r])
      cols.append(iq[c])
    rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    cols = np.concatenate(cols) if cols else np.zeros(0, np.int64)
  s = sim[rows, cols]
  if min_similarity is not None:
    keep = s >= min_similarity
    rows, cols, s = rows[keep], cols[keep], s[keep]
  order = np.argsort(rows, kind="stable")
  return Pairs(rows[order], cols[order], s[order].astype(np.float32))
