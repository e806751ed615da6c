"""From pseudo-relevant to truly relevant images (Sec. 3.3), and the relevance function.

1. Difference features of every pair: `f(a) - f(b)` with `f` the SCAE's codes
   pooled per grid cell (`features.pooled_features`).
2. K-means (k-means++ seeding, `jaxvis.ops.cluster`) on them, optionally on
   standardised features; the largest
   cluster holds the pairs of a truly relevant image (a) and a truly irrelevant one (b).
3. A relevance function fitted on those images — a's positive, b's negative —
   scores any image for the query. The paper leaves its form open; here a
   linear score on standardised features, fitted by L2-regularised logistic
   regression on the images ("logistic"), by pair-wise logistic regression on the
   pairs' differences ("pairwise"), or as the projection on the direction
   between the two groups' means ("centroid").
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxvis.ops import cluster
from jaxvis.errors import InputError

RELEVANCE_METHODS = ("logistic", "pairwise", "centroid")


class PairClusters(NamedTuple):
  """K-means of the pairs' difference features.

  Attributes:
    labels: (M,) cluster of every pair.
    sizes: (k,) pairs per cluster.
    largest: index of the largest cluster.
    selected: (M,) bool, pairs in the largest cluster.
    inertia: k-means inertia.
  """
  labels: np.ndarray
  sizes: np.ndarray
  largest: int
  selected: np.ndarray
  inertia: float


def difference_features(features_p: np.ndarray, features_q: np.ndarray, pair_p: np.ndarray,
                        pair_q: np.ndarray) -> np.ndarray:
  """(M, D) features of a pair: feature of its P image minus feature of its Q image."""
  return np.asarray(features_p)[pair_p] - np.asarray(features_q)[pair_q]


def standardize_columns(x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
  """Every column to zero mean and unit standard deviation (constant columns become 0)."""
  x = np.asarray(x, np.float32)
  return (x - x.mean(0)) / (x.std(0) + eps)


def cluster_pairs(differences: np.ndarray, num_clusters: int, *, key: jax.Array,
                  num_init: int = 10, standardize: bool = False) -> PairClusters:
  """K-means on the difference features; the largest cluster is selected.

  Args:
    differences: (M, D) difference features of the pairs.
    num_clusters: K.
    key: k-means++ seeding key.
    num_init: k-means restarts (the lowest inertia wins).
    standardize: scale every feature to unit variance over the pairs first, so that
      statistics with different units (mean activation, log contrast) weigh alike
      in the Euclidean distance.
  """
  d = np.asarray(differences, np.float32)
  if d.ndim != 2 or len(d) < num_clusters:
    raise InputError("differences", f"expected (M, D) with M >= num_clusters={num_clusters}, "
                     f"got shape {d.shape}")
  if standardize:
    d = standardize_columns(d)
  res = cluster.kmeans(d, int(num_clusters), key=key, num_init=num_init)
  labels = np.asarray(res.labels)
  sizes = np.bincount(labels, minlength=num_clusters)
  largest = int(np.argmax(sizes))
  return PairClusters(labels, sizes, largest, labels == largest, float(res.inertia))


class RelevanceModel(NamedTuple):
  """A linear relevance function `score(x) = sigmoid(((x - mean) / std) . w + b)`."""
  mean: jax.Array
  std: jax.Array
  w: jax.Array
  b: jax.Array


@functools.partial(jax.jit, static_argnames=("steps",))
def _fit_logistic(x, y, l2, lr, steps):
  def loss(p):
    logits = x @ p["w"] + p["b"]
    return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, y)) + l2 * jnp.sum(p["w"] ** 2)

  return _minimise(loss, {"w": jnp.zeros(x.shape[1]), "b": jnp.zeros(())}, lr, steps)


@functools.partial(jax.jit, static_argnames=("steps",))
def _fit_pairwise_logistic(za, zb, l2, lr, steps):
  # RankNet / pair-wise logistic: P(a ranked above b) = sigmoid(w . (z_a - z_b)).
  def loss(p):
    margin = (za - zb) @ p["w"]
    return jnp.mean(jax.nn.softplus(-margin)) + l2 * jnp.sum(p["w"] ** 2)

  return _minimise(loss, {"w": jnp.zeros(za.shape[1])}, lr, steps)


def _minimise(loss, params, lr, steps):
  tx = optax.adam(lr)

  def body(_, carry):
    p, s = carry
    g = jax.grad(loss)(p)
    u, s = tx.update(g, s, p)
    return optax.apply_updates(p, u), s

  params, _ = jax.lax.fori_loop(0, steps, body, (params, tx.init(params)))
  return params


def fit_relevance(positives: np.ndarray, negatives: np.ndarray, *, method: str = "logistic",
                  l2: float = 1e-2, steps: int = 500, learning_rate: float = 0.05
                  ) -> RelevanceModel:
  """Fits the relevance function on truly relevant (positives) and irrelevant (negatives) features.

  Args:
    positives: (Np, D) features of the truly relevant images.
    negatives: (Nn, D) features of the truly irrelevant images.
    method: "logistic" (L2-regularised logistic regression, Adam, full batch),
      "pairwise" (pair-wise logistic / RankNet on the pairs' differences: row i of
      `positives` and of `negatives` are the two images of pair i, so what the
      pair shares — the scene — cancels), or "centroid" (projection on
      mean(pos) - mean(neg)).
    l2: weight decay of the logistic regression.
    steps: optimisation steps.
    learning_rate: Adam step size.
  """
  pos, neg = np.asarray(positives, np.float32), np.asarray(negatives, np.float32)
  if method not in RELEVANCE_METHODS:
    raise InputError("method", f"expected one of {RELEVANCE_METHODS}, got {method!r}")
  if pos.ndim != 2 or neg.ndim != 2 or pos.shape[1] != neg.shape[1] or not len(pos) \
      or not len(neg):
    raise InputError("positives, negatives", f"expected non-empty (N, D) arrays with the same D, "
                     f"got {pos.shape} and {neg.shape}")
  x = np.concatenate([pos, neg])
  mean, std = x.mean(0), x.std(0) + 1e-6
  z = (x - mean) / std
  if method == "pairwise":
    if len(pos) != len(neg):
      raise InputError("positives, negatives", f"method='pairwise' needs the two images of every "
                       f"pair (row i of each), got {len(pos)} and {len(neg)} rows")
    p = _fit_pairwise_logistic(jnp.asarray(z[:len(pos)]), jnp.asarray(z[len(pos):]), float(l2),
                               float(learning_rate), int(steps))
    # No bias is learnt (it cancels in a difference): centre the scores on the training images.
    b = -jnp.mean(jnp.asarray(z) @ p["w"])
    return RelevanceModel(jnp.asarray(mean), jnp.asarray(std), p["w"], b)
  if method == "centroid":
    w = z[:len(pos)].mean(0) - z[len(pos):].mean(0)
    w = w / max(np.linalg.norm(w), 1e-12)
    b = -float(z.mean(0) @ w)
    return RelevanceModel(jnp.asarray(mean), jnp.asarray(std), jnp.asarray(w), jnp.asarray(b))
  y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))]).astype(np.float32)
  p = _fit_logistic(jnp.asarray(z), jnp.asarray(y), float(l2), float(learning_rate), int(steps))
  return RelevanceModel(jnp.asarray(mean), jnp.asarray(std), p["w"], p["b"])


@jax.jit
def relevance_scores(model: RelevanceModel, features: jax.Array) -> jax.Array:
  """(N, D) features -> (N,) relevance in (0, 1); higher is more relevant."""
  z = (features - model.mean) / model.std
  return jax.nn.sigmoid(z @ model.w + model.b)


def rank(scores: np.ndarray) -> np.ndarray:
  """Indices from most to least relevant (stable for ties)."""
  return np.argsort(-np.asarray(scores), kind="stable")
