"""The arousal-valence plane: impression points, clusters, quadrant narrowing, songs.

Pure, jittable, batched functions (paper sections 4.2-4.4):

    pts, w, ok = impression_points(word_vecs, word_weights, word_valid, imp_vecs, imp_va,
                                   k=5, weighting="similarity")      # (.., W*5, 2)
    clusters = cluster_points(pts, ok, seed=0)                        # spherical k-means, k=4
    q = choose_quadrant(quadrant_counts(pts, ok), reference_means)   # 1..4
    songs = nearest_songs(clusters.centers, song_va)                 # one per cluster

Quadrants follow the usual convention: 1 = (v >= 0, a >= 0), 2 = (v < 0, a >= 0),
3 = (v < 0, a < 0), 4 = (v >= 0, a < 0).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxvis.music import seeding
from jaxvis.music.wordvec import top_k_similar

WEIGHTINGS = ("area", "similarity")


def impression_points(word_vecs: jax.Array, word_weights: jax.Array, word_valid: jax.Array,
                      imp_vecs: jax.Array, imp_va: jax.Array, k: int = 5,
                      weighting: str = "similarity") -> tuple[jax.Array, jax.Array, jax.Array]:
  """Maps every extracted word to its top-k impression words, weighted, on the AV plane.

  Args:
    word_vecs: (..., W, D) vectors of the extracted words (objects or caption words).
    word_weights: (..., W) per-word weights; method A's `d(X) / d_max`, else 1.
    word_valid: (..., W) bool, False for padding and out-of-vocabulary words.
    imp_vecs: (I, D) vectors of the impression words.
    imp_va: (I, 2) their (valence, arousal).
    k: impression words per extracted word (the paper: 5).
    weighting: "area" (method A: every impression word of X gets weight(X)) or
      "similarity" (method B: similarities normalised so the best is 1, times the
      word weight).

  Returns:
    points (..., W*k, 2) = (v * w, a * w), weights (..., W*k) and valid (..., W*k).
  """
  if weighting not in WEIGHTINGS:
    raise ValueError(f"weighting: expected one of {WEIGHTINGS}, got {weighting!r}")
  return _impression_points(word_vecs, word_weights, word_valid, imp_vecs, imp_va, k, weighting)


@functools.partial(jax.jit, static_argnames=("k", "weighting"))
def _impression_points(word_vecs, word_weights, word_valid, imp_vecs, imp_va, k, weighting):
  sims, idx = top_k_similar(word_vecs, imp_vecs, k)                       # (..., W, k)
  if weighting == "similarity":
    best = jnp.maximum(sims[..., :1], 1e-6)
    w = jnp.clip(sims, 0.0, None) / best * word_weights[..., None]
  else:
    w = jnp.broadcast_to(word_weights[..., None], sims.shape)
  valid = word_valid[..., None] & (w > 0)
  w = jnp.where(valid, w, 0.0)
  pts = imp_va[idx] * w[..., None]
  flat = word_vecs.shape[:-2] + (-1,)
  return pts.reshape(flat + (2,)), w.reshape(flat), valid.reshape(flat)


@jax.jit
def quadrant_of(points: jax.Array) -> jax.Array:
  """(..., 2) (valence, arousal) -> (...) int32 quadrant in 1..4."""
  v, a = points[..., 0], points[..., 1]
  return jnp.where(a >= 0, jnp.where(v >= 0, 1, 2), jnp.where(v < 0, 3, 4)).astype(jnp.int32)


@jax.jit
def quadrant_counts(points: jax.Array, valid: jax.Array) -> jax.Array:
  """(..., P, 2), (..., P) -> (..., 4) number of valid points in quadrants 1..4."""
  q = quadrant_of(points) - 1
  return jnp.sum(jax.nn.one_hot(q, 4) * valid[..., None], axis=-2)


@jax.jit
def choose_quadrant(counts: jax.Array, reference_means: jax.Array) -> jax.Array:
  """The paper's narrowing: argmax of counts / reference-set average counts (1..4).

  Args:
    counts: (..., 4) words per quadrant for one image.
    reference_means: (4,) mean words per quadrant over a reference image set.

  Returns:
    (...) int32 quadrant; 0 where the image has no words at all.
  """
  ratio = counts / jnp.maximum(reference_means, 1e-6)
  q = jnp.argmax(ratio, axis=-1).astype(jnp.int32) + 1
  return jnp.where(counts.sum(-1) > 0, q, 0)


class Clusters(NamedTuple):
  """Spherical k-means clusters of the impression points.

  Clusters are ordered counter-clockwise by direction from the positive valence
  axis, empty clusters last.

  Attributes:
    centers: (..., k, 2) AV centre of each cluster: the weighted mean of its points
      (center="mean") or its unit direction (center="direction").
    directions: (..., k, 2) unit directions from spherical k-means.
    labels: (..., P) cluster of every point.
    mass: (..., k) summed point weight per cluster; 0 marks an empty cluster.
  """
  centers: jax.Array
  directions: jax.Array
  labels: jax.Array
  mass: jax.Array


def cluster_points(points: jax.Array, valid: jax.Array, seed: int = 0, k: int = 4,
                   center: str = "mean", num_init: int = 4) -> Clusters:
  """Clusters AV points by angle with spherical k-means (Dhillon & Modha), k = 4.

  Points are clustered by direction only; every valid point counts once (the
  paper clusters the plotted words, not their weights). Needs at least k valid
  points per problem.

  Args:
    points: (..., P, 2) plotted impression points.
    valid: (..., P) bool.
    seed: integer seed of the host-drawn k-means++ starts (`seeding`), independent of
      JAX's PRNG settings.
    k: clusters (the paper: 4).
    center: "mean" (centroid of the plotted points; default) or "direction".
    num_init: k-means starts; the lowest inertia wins.
  """
  if center not in ("mean", "direction"):
    raise ValueError(f"center: expected 'mean' or 'direction', got {center!r}")
  nonzero = _nonzero(points, valid)
  res = seeding.best_of_starts(points, nonzero, k, seed, num_init, "cosine", max_iters=100)
  return _finish_clusters(points, nonzero > 0, res.labels, res.centers, k, center)


@jax.jit
def _nonzero(points, valid):
  return (valid & (jnp.linalg.norm(points, axis=-1) > 0)).astype(jnp.float32)


@functools.partial(jax.jit, static_argnames=("k", "center"))
def _finish_clusters(points, valid, labels, directions, k, center):
  onehot = jax.nn.one_hot(labels, k) * valid[..., None]                    # (..., P, k)
  mass = onehot.sum(-2)
  mean = jnp.einsum("...pk,...pd->...kd", onehot, points) / jnp.maximum(mass, 1.0)[..., None]
  centers = mean if center == "mean" else directions
  # Canonical order (counter-clockwise from valence +1, empty clusters last): k-means
  # numbers its clusters arbitrarily, and the songs list follows this order.
  angle = jnp.mod(jnp.arctan2(directions[..., 1], directions[..., 0]), 2 * jnp.pi)
  order = jnp.argsort(jnp.where(mass > 0, angle, 10.0), axis=-1)
  rank = jnp.argsort(order, axis=-1)
  take = lambda x: jnp.take_along_axis(x, order[..., None], axis=-2)
  return Clusters(take(centers), take(directions), jnp.take_along_axis(rank, labels, axis=-1),
                  jnp.take_along_axis(mass, order, axis=-1))


@jax.jit
def nearest_songs(centers: jax.Array, song_va: jax.Array) -> tuple[jax.Array, jax.Array]:
  """(..., C, 2) centres, (S, 2) songs -> nearest song index (..., C) and distance."""
  d = jnp.linalg.norm(centers[..., :, None, :] - song_va, axis=-1)       # (..., C, S)
  idx = jnp.argmin(d, axis=-1).astype(jnp.int32)
  return idx, jnp.take_along_axis(d, idx[..., None], axis=-1)[..., 0]


@jax.jit
def narrowed_clusters(clusters: Clusters, quadrant: jax.Array) -> jax.Array:
  """(..., k) bool: non-empty clusters whose centre lies in the chosen quadrant."""
  return (clusters.mass > 0) & (quadrant_of(clusters.centers) == quadrant[..., None])


@jax.jit
def reference_means(counts: jax.Array) -> jax.Array:
  """(N, 4) per-image quadrant counts of a reference set -> (4,) averages."""
  return jnp.mean(counts, axis=0)
