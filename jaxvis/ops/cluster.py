"""K-means and spherical k-means as pure, jittable, batched JAX functions.

Both algorithms are Lloyd iterations in a `lax.while_loop`, seeded by greedy
k-means++ (Arthur & Vassilvitskii 2007, with the `2 + log k` local trials that
scikit-learn uses). Every function takes optional per-point `weights`; a weight
of 0 removes a point, which is how ragged sets (e.g. regions of different
sizes) are clustered as one padded batch.

Points may carry leading batch dimensions, `(..., N, D)`: each problem in the
batch is clustered independently (vmapped) with its own random key.

    res = kmeans(points, 3, key=jax.random.key(0))          # points (N, D)
    res.centers (3, D), res.labels (N,), res.inertia (), res.num_iters ()
    res = spherical_kmeans(xy, 4, key=key)                  # clusters by direction
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

_METRICS = ("euclidean", "cosine")


class KMeansResult(NamedTuple):
  """Outcome of a k-means run (leading batch dims as in the input).

  Attributes:
    centers: (..., k, D) cluster centres (unit vectors for spherical k-means).
    labels: (..., N) int32 index of each point's centre.
    inertia: (...,) weighted sum over points of the distance to their centre:
      squared Euclidean for k-means, `1 - cosine` for spherical k-means.
    num_iters: (...,) int32 Lloyd iterations run (of the best restart).
  """
  centers: jax.Array
  labels: jax.Array
  inertia: jax.Array
  num_iters: jax.Array


# ------------------------------------------------------------------ distances

def squared_distances(points: jax.Array, centers: jax.Array) -> jax.Array:
  """(N, D), (k, D) -> (N, k) squared Euclidean distances (one matmul)."""
  d2 = (jnp.sum(points * points, -1)[:, None] - 2.0 * points @ centers.T
        + jnp.sum(centers * centers, -1)[None, :])
  return jnp.maximum(d2, 0.0)


def cosine_distances(points: jax.Array, centers: jax.Array) -> jax.Array:
  """(N, D), (k, D) -> (N, k) `1 - cos`, for rows already of unit norm."""
  return jnp.clip(1.0 - points @ centers.T, 0.0, 2.0)


def _distances(points, centers, metric):
  if metric == "cosine":
    return cosine_distances(points, centers)
  return squared_distances(points, centers)


def normalize_rows(x: jax.Array, eps: float = 1e-12) -> jax.Array:
  """Scales every row of `x` to unit L2 norm (zero rows stay zero)."""
  norm = jnp.linalg.norm(x, axis=-1, keepdims=True)
  return x / jnp.maximum(norm, eps)


def assign(points: jax.Array, centers: jax.Array, metric: str = "euclidean"
           ) -> tuple[jax.Array, jax.Array]:
  """Nearest centre for every point.

  Args:
    points: (N, D) points (unit rows for `metric="cosine"`).
    centers: (k, D) centres.
    metric: "euclidean" (squared distance) or "cosine" (`1 - cos`).

  Returns:
    labels (N,) int32 and the distance of each point to its centre (N,).
  """
  d = _distances(points, centers, metric)
  labels = jnp.argmin(d, axis=-1).astype(jnp.int32)
  return labels, jnp.take_along_axis(d, labels[:, None], axis=-1)[:, 0]


def cluster_sizes(labels: jax.Array, k: int, weights: jax.Array | None = None
                  ) -> jax.Array:
  """(..., N) labels -> (..., k) summed weight (or count) of every cluster."""
  w = jnp.ones(labels.shape, jnp.float32) if weights is None else weights
  return jnp.sum(jax.nn.one_hot(labels, k, dtype=jnp.float32) * w[..., None], axis=-2)


# ------------------------------------------------------------------ k-means++

def _kmeans_plusplus(key, points, weights, k, num_local_trials, metric):
  """Greedy k-means++ on one (N, D) problem; returns (k, D) centres."""
  log_w = jnp.log(jnp.maximum(weights, 0.0))
  key, first_key = jax.random.split(key)
  first = jax.random.categorical(first_key, log_w)
  centers = jnp.zeros((k, points.shape[1]), points.dtype).at[0].set(points[first])
  closest = _distances(points, points[first][None], metric)[:, 0]

  def add_center(i, carry):
    centers, closest = carry
    trial_key = jax.random.fold_in(key, i)
    mass = weights * closest
    # All remaining mass zero (duplicates): fall back to sampling by weight.
    logits = jnp.where(mass.sum() > 0, jnp.log(jnp.maximum(mass, 0.0)), log_w)
    candidates = jax.random.categorical(trial_key, logits, shape=(num_local_trials,))
    d_cand = _distances(points, points[candidates], metric)            # (N, T)
    new_closest = jnp.minimum(closest[:, None], d_cand)               # (N, T)
    potential = jnp.sum(weights[:, None] * new_closest, axis=0)       # (T,)
    best = jnp.argmin(potential)
    return centers.at[i].set(points[candidates[best]]), new_closest[:, best]

  centers, _ = jax.lax.fori_loop(1, k, add_center, (centers, closest))
  return centers


def kmeans_plusplus(points: jax.Array, k: int, *, key: jax.Array,
                    weights: jax.Array | None = None, num_local_trials: int | None = None,
                    metric: str = "euclidean") -> jax.Array:
  """Greedy k-means++ seeding.

  Each new centre is the best (lowest potential) of `num_local_trials` points
  drawn with probability proportional to `weight * distance to the nearest
  chosen centre`.

  Args:
    points: (..., N, D) points.
    k: number of centres (static).
    key: PRNG key.
    weights: optional (..., N) non-negative point weights.
    num_local_trials: candidates per centre; default `2 + int(log(k))`.
    metric: "euclidean" or "cosine" (rows are normalised first).

  Returns:
    (..., k, D) initial centres, each one of the input points.
  """
  points, weights = _check_inputs(points, k, weights, metric)
  trials = _default_trials(k) if num_local_trials is None else int(num_local_trials)
  if trials < 1:
    raise ValueError(f"num_local_trials: expected >= 1, got {num_local_trials}")
  if metric == "cosine":
    points = normalize_rows(points)
  fn = _compiled(_kmeans_plusplus, len(points.shape) - 2, k=k, num_local_trials=trials,
                 metric=metric)
  return fn(_keys_for(key, points.shape[:-2]), points, weights)


# ------------------------------------------------------------------ Lloyd

def _update_centers(points, weights, labels, old_centers, dist, metric):
  """M-step; empty clusters move to the points farthest from their centres."""
  k = old_centers.shape[0]
  onehot = jax.nn.one_hot(labels, k, dtype=points.dtype) * weights[:, None]
  mass = onehot.sum(0)                                                   # (k,)
  sums = onehot.T @ points                                               # (k, D)
  if metric == "cosine":
    centers = normalize_rows(sums)
    centers = jnp.where(jnp.linalg.norm(sums, axis=-1, keepdims=True) > 0, centers,
                        old_centers)
  else:
    centers = sums / jnp.maximum(mass, 1e-30)[:, None]
  empty = mass <= 0
  # The j-th empty cluster takes the j-th farthest (positive-weight) point. At most k
  # can be empty, so top_k (O(N k)) does what a full argsort per iteration did.
  _, far_order = jax.lax.top_k(jnp.where(weights > 0, dist, -jnp.inf), min(k, points.shape[0]))
  rank = jnp.cumsum(empty) - 1
  relocated = points[far_order[jnp.clip(rank, 0, far_order.shape[0] - 1)]]
  return jnp.where(empty[:, None], relocated, centers)


def _lloyd(points, weights, init_centers, max_iters, tol, metric):
  """Lloyd iterations from `init_centers` on one problem."""
  labels0, dist0 = assign(points, init_centers, metric)

  def cond(state):
    it, _, _, _, converged = state
    return jnp.logical_and(it < max_iters, jnp.logical_not(converged))

  def body(state):
    it, centers, labels, dist, _ = state
    new_centers = _update_centers(points, weights, labels, centers, dist, metric)
    new_labels, new_dist = assign(points, new_centers, metric)
    shift = jnp.sum((new_centers - centers) ** 2)
    converged = jnp.logical_or(jnp.all(new_labels == labels), shift <= tol)
    return it + 1, new_centers, new_labels, new_dist, converged

  state = (jnp.int32(0), init_centers, labels0, dist0, jnp.bool_(False))
  it, centers, labels, dist, _ = jax.lax.while_loop(cond, body, state)
  return KMeansResult(centers, labels, jnp.sum(weights * dist), it)


def _solve(key, points, weights, init_centers, *, k, init, num_init, max_iters, tol,
           metric, trials):
  """All restarts of one problem; keeps the lowest-inertia run."""
  if metric == "euclidean":
    # scikit-learn's tolerance: relative to the data's mean per-feature variance.
    wsum = jnp.maximum(weights.sum(), 1e-30)
    mean = (weights[:, None] * points).sum(0) / wsum
    var = (weights[:, None] * (points - mean) ** 2).sum(0) / wsum
    tol = tol * jnp.mean(var)

  def one_run(run_key):
    if init == "k-means++":
      centers = _kmeans_plusplus(run_key, points, weights, k, trials, metric)
    elif init == "random":
      idx = jax.random.choice(run_key, points.shape[0], (k,), replace=False,
                              p=weights / weights.sum())
      centers = points[idx]
    else:
      centers = normalize_rows(init_centers) if metric == "cosine" else init_centers
    return _lloyd(points, weights, centers, max_iters, tol, metric)

  runs = jax.vmap(one_run)(jax.random.split(key, num_init))
  best = jnp.argmin(runs.inertia)
  return jax.tree.map(lambda x: x[best], runs)


def _cluster(points, k, key, weights, init, num_init, max_iters, tol, num_local_trials,
             metric):
  if isinstance(init, str):
    if init not in ("k-means++", "random"):
      raise ValueError(f"init: expected 'k-means++', 'random' or a (k, D) array, got {init!r}")
    init_centers = None
  else:
    init_centers = jnp.asarray(init)
    if init_centers.shape[-2:] != (k, points.shape[-1]):
      raise ValueError(f"init: expected centres of shape (..., {k}, {points.shape[-1]}), "
                       f"got {init_centers.shape}")
    num_init = 1
  if int(num_init) < 1:
    raise ValueError(f"num_init: expected >= 1, got {num_init}")
  if int(max_iters) < 0:
    raise ValueError(f"max_iters: expected >= 0, got {max_iters}")
  if float(tol) < 0:
    raise ValueError(f"tol: expected >= 0, got {tol}")
  points, weights = _check_inputs(points, k, weights, metric)
  if metric == "cosine":
    points = normalize_rows(points)
  if key is None:
    if init_centers is None:
      raise ValueError("key: a PRNG key is required unless `init` gives the centres")
    key = jax.random.key(0)
  trials = _default_trials(k) if num_local_trials is None else int(num_local_trials)
  batch = points.shape[:-2]
  if init_centers is None:
    init_centers = jnp.zeros(batch + (k, points.shape[-1]), points.dtype)
  else:
    init_centers = jnp.broadcast_to(init_centers.astype(points.dtype),
                                    batch + (k, points.shape[-1]))
  fn = _compiled(_solve, len(batch), k=k, init=init if isinstance(init, str) else "given",
                 num_init=int(num_init), max_iters=int(max_iters), tol=float(tol),
                 metric=metric, trials=trials)
  return fn(_keys_for(key, batch), points, weights, init_centers)


def kmeans(points: jax.Array, k: int, *, key: jax.Array | None = None,
           weights: jax.Array | None = None, init="k-means++", num_init: int = 1,
           max_iters: int = 300, tol: float = 1e-4,
           num_local_trials: int | None = None) -> KMeansResult:
  """Lloyd's k-means with greedy k-means++ seeding (scikit-learn's algorithm).

  Converges when no label changes or when the squared centre shift falls below
  `tol * mean per-feature variance` (scikit-learn's criterion). An empty cluster
  is moved onto the point farthest from its centre.

  Args:
    points: (..., N, D) float points; leading dims are independent problems.
    k: number of clusters (static, 1 <= k <= N).
    key: PRNG key (required unless `init` is an array).
    weights: optional (..., N) non-negative weights; 0 excludes a point.
    init: "k-means++", "random" (k distinct points) or a (..., k, D) array.
    num_init: restarts (vmapped); the lowest inertia wins.
    max_iters: maximum Lloyd iterations (static).
    tol: relative tolerance on the centre shift.
    num_local_trials: k-means++ candidates per centre; default `2 + log k`.

  Returns:
    A `KMeansResult`; `inertia` is the weighted sum of squared distances.
  """
  return _cluster(points, k, key, weights, init, num_init, max_iters, tol,
                  num_local_trials, "euclidean")


def spherical_kmeans(points: jax.Array, k: int, *, key: jax.Array | None = None,
                     weights: jax.Array | None = None, init="k-means++", num_init: int = 1,
                     max_iters: int = 100, tol: float = 1e-8,
                     num_local_trials: int | None = None) -> KMeansResult:
  """Spherical k-means (Dhillon & Modha 2001): k-means on directions.

  Points are normalised to unit length, assigned to the centre of highest
  cosine similarity, and every centre is the normalised (weighted) sum of its
  points. Seeded by k-means++ with the `1 - cos` distance. Zero-length points
  have no direction: give them weight 0.

  Args:
    points: (..., N, D) points (any length; only the direction is used).
    k: number of clusters (static).
    key: PRNG key (required unless `init` is an array).
    weights: optional (..., N) non-negative weights (e.g. a word's strength).
    init: "k-means++", "random" or a (..., k, D) array of directions.
    num_init: restarts; the lowest inertia wins.
    max_iters: maximum iterations (static).
    tol: absolute tolerance on the squared shift of the unit centres.
    num_local_trials: k-means++ candidates per centre.

  Returns:
    A `KMeansResult` with unit-norm `centers`; `inertia` = sum of w * (1 - cos).
  """
  return _cluster(points, k, key, weights, init, num_init, max_iters, tol,
                  num_local_trials, "cosine")


# ------------------------------------------------------------------ helpers

def _default_trials(k: int) -> int:
  return 2 + int(math.log(k)) if k > 1 else 1


def _check_inputs(points, k, weights, metric):
  if metric not in _METRICS:
    raise ValueError(f"metric: expected one of {_METRICS}, got {metric!r}")
  points = jnp.asarray(points)
  if points.ndim < 2:
    raise ValueError(f"points: expected shape (..., N, D), got {points.shape}")
  if not jnp.issubdtype(points.dtype, jnp.floating):
    points = points.astype(jnp.float32)
  elif points.dtype in (jnp.bfloat16, jnp.float16):
    points = points.astype(jnp.float32)     # sums of distances need float32
  n = points.shape[-2]
  if not isinstance(k, (int, np.integer)) or isinstance(k, bool):
    raise ValueError(f"k: expected a Python int, got {type(k).__name__}")
  if not 1 <= k <= n:
    raise ValueError(f"k: expected 1 <= k <= N = {n} (number of points), got {k}")
  if weights is None:
    weights = jnp.ones(points.shape[:-1], points.dtype)
  else:
    weights = jnp.asarray(weights, points.dtype)
    if weights.shape != points.shape[:-1]:
      raise ValueError(f"weights: expected shape {points.shape[:-1]} (one per point), "
                       f"got {weights.shape}")
    if not isinstance(weights, jax.core.Tracer):
      w = np.asarray(weights)
      if (w < 0).any() or not np.isfinite(w).all():
        raise ValueError("weights: expected finite values >= 0")
      if ((w > 0).sum(-1) < k).any():
        raise ValueError(f"weights: every problem needs at least k = {k} points "
                         "with weight > 0")
  if not isinstance(points, jax.core.Tracer) and not np.isfinite(np.asarray(points)).all():
    raise ValueError("points: expected finite values (found NaN or inf)")
  return points, weights


def _keys_for(key, batch_shape):
  """One key per problem; accepts typed keys and legacy uint32 keys."""
  if not batch_shape:
    return key
  keys = jax.random.split(key, int(np.prod(batch_shape)))
  return keys.reshape(tuple(batch_shape) + keys.shape[1:])


@functools.lru_cache(maxsize=64)
def _compiled_cached(fn, batch_ndim, static_items):
  fn = functools.partial(fn, **dict(static_items))
  for _ in range(batch_ndim):
    fn = jax.vmap(fn)
  return jax.jit(fn)


def _compiled(fn, batch_ndim, **static):
  """A jitted `fn` with its static options bound, vmapped per batch dim (cached)."""
  return _compiled_cached(fn, batch_ndim, tuple(sorted(static.items())))
