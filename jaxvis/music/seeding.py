"""Several k-means starts seeded on the host, so answers do not depend on JAX's PRNG settings.

`jax.random` bits change with `jax_threefry_partitionable` (which the `jaxvis`
command turns off on CPU and the library leaves on), so a k-means seeded from a
`jax.random.key` gave the library and the command different colours and
quadrants for the same photo and seed. Here the starts are drawn with numpy's
PCG64 from the integer seed (k-means++ sampling, Arthur & Vassilvitskii 2007),
every start runs the same jitted Lloyd loop (`ops.cluster`, vmapped over the
starts), and the lowest-inertia start wins, so different seeds also agree
whenever one start finds the best partition.

    res = best_of_starts(points, weights, k=3, seed=0, starts=4)   # centers, labels, inertia
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from jaxvis.ops import cluster


class Best(NamedTuple):
  """The winning start per problem: centres (..., k, D), labels (..., P), inertia (...)."""
  centers: jnp.ndarray
  labels: jnp.ndarray
  inertia: jnp.ndarray


def kmeanspp_starts(points: np.ndarray, weights: np.ndarray, k: int, seed: int, starts: int,
                    metric: str = "euclidean") -> np.ndarray:
  """k-means++ initial centres drawn on the host.

  Args:
    points: (..., P, D) points.
    weights: (..., P) non-negative weights (0 excludes a point); >= 1 positive each.
    k: centres per start.
    seed: integer seed (numpy PCG64).
    starts: independent starts.
    metric: "euclidean" or "cosine" (distance 1 - cos on normalised rows).

  Returns:
    (..., starts, k, D) float32 centres, each an input point.
  """
  pts = np.asarray(points, np.float64)
  w = np.asarray(weights, np.float64)
  if metric == "cosine":
    pts = pts / np.maximum(np.linalg.norm(pts, axis=-1, keepdims=True), 1e-12)
  batch = pts.shape[:-2]
  n, dim = pts.shape[-2:]
  # All problems x starts at once; only the k centre draws are a Python loop.
  p = np.broadcast_to(pts.reshape(-1, 1, n, dim), (int(np.prod(batch, dtype=int)), starts, n, dim))
  w = np.broadcast_to(w.reshape(-1, 1, n), p.shape[:-1])
  rng = np.random.default_rng(int(seed))
  chosen = []
  mass, nearest = w, np.full(p.shape[:-1], np.inf)
  for _ in range(k):
    # Sample one point per (problem, start) with probability mass / sum(mass) by
    # inverting the cumulative sum; where every weighted point is already chosen
    # (duplicates), sample by weight instead.
    mass = np.where(mass.sum(-1, keepdims=True) > 0, mass, w)
    cdf = np.cumsum(mass, -1)
    u = rng.random(cdf.shape[:-1] + (1,)) * cdf[..., -1:]
    idx = np.minimum((cdf <= u).sum(-1), n - 1)
    centre = np.take_along_axis(p, idx[..., None, None], axis=-2)         # (B, S, 1, D)
    chosen.append(centre[..., 0, :])
    nearest = np.minimum(nearest, _dist(p, centre, metric))
    mass = w * nearest
  out = np.stack(chosen, axis=-2).astype(np.float32)                      # (B, S, k, D)
  return out.reshape(batch + out.shape[1:])


def _dist(p: np.ndarray, c: np.ndarray, metric: str) -> np.ndarray:
  if metric == "cosine":
    return np.maximum(1.0 - (p * c).sum(-1), 0.0)
  return ((p - c) ** 2).sum(-1)


def best_of_starts(points, weights, k: int, seed: int, starts: int = 4,
                   metric: str = "euclidean", max_iters: int = 50) -> Best:
  """k-means (or spherical k-means) from `starts` host-seeded starts; the lowest inertia wins.

  Args:
    points: (..., P, D) points; leading dims are independent problems.
    weights: (..., P) weights; each problem needs >= k positive.
    k: clusters.
    seed: integer seed; the result does not depend on any JAX PRNG setting.
    starts: number of starts per problem.
    metric: "euclidean" (k-means) or "cosine" (spherical k-means).
    max_iters: Lloyd iterations.
  """
  points = np.asarray(points, np.float32)
  weights = np.asarray(weights, np.float32)
  init = kmeanspp_starts(points, weights, k, seed, starts, metric)
  # Every start is one more independent problem of the batched Lloyd loop.
  pts_s = np.broadcast_to(points[..., None, :, :],
                          points.shape[:-2] + (starts,) + points.shape[-2:])
  w_s = np.broadcast_to(weights[..., None, :], weights.shape[:-1] + (starts, weights.shape[-1]))
  fn = cluster.kmeans if metric == "euclidean" else cluster.spherical_kmeans
  res = fn(jnp.asarray(pts_s), k, init=jnp.asarray(init), weights=jnp.asarray(w_s),
           max_iters=max_iters)
  best = jnp.argmin(res.inertia, axis=-1)                            # (...)
  take = lambda x: jnp.take_along_axis(
      x, best.reshape(best.shape + (1,) * (x.ndim - best.ndim)), axis=best.ndim
  ).squeeze(best.ndim)
  return Best(take(res.centers), take(res.labels), take(res.inertia))
