"""Value tests for jaxvis.ops.cluster (k-means, k-means++, spherical k-means)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from jaxvis.ops import cluster


@pytest.fixture(scope="module")
def blobs():
  x, y = make_blobs(400, centers=5, n_features=3, cluster_std=1.5, random_state=0)
  return x.astype(np.float32), y


def test_recovers_well_separated_clusters():
  centres = np.array([[0, 0], [20, 0], [0, 20], [20, 20]], np.float32)
  x, y = make_blobs(200, centers=centres, cluster_std=0.5, random_state=1)
  res = cluster.kmeans(x, 4, key=jax.random.key(0))
  assert adjusted_rand_score(y, np.asarray(res.labels)) == 1.0
  found = np.asarray(res.centers)[np.argsort(np.asarray(res.centers) @ [1, 100])]
  np.testing.assert_allclose(found, centres[np.argsort(centres @ [1, 100])], atol=0.2)


def test_matches_sklearn_from_same_init(blobs):
  x, _ = blobs
  init = x[:5]
  ours = cluster.kmeans(x, 5, init=init)
  ref = KMeans(5, init=init, n_init=1, algorithm="lloyd").fit(x)
  np.testing.assert_allclose(float(ours.inertia), ref.inertia_, rtol=1e-5)
  np.testing.assert_array_equal(np.asarray(ours.labels), ref.labels_)
  np.testing.assert_allclose(np.asarray(ours.centers), ref.cluster_centers_, atol=1e-4)


def test_kmeanspp_restarts_match_sklearn_inertia(blobs):
  x, _ = blobs
  ours = cluster.kmeans(x, 5, key=jax.random.key(3), num_init=8)
  ref = KMeans(5, n_init=10, random_state=0).fit(x)
  np.testing.assert_allclose(float(ours.inertia), ref.inertia_, rtol=1e-3)
  # The reported inertia is the one of the returned labels and centres.
  c = np.asarray(ours.centers)
  direct = ((x - c[np.asarray(ours.labels)]) ** 2).sum()
  np.testing.assert_allclose(float(ours.inertia), direct, rtol=1e-4)


def test_kmeans_plusplus_picks_one_point_per_separated_cluster():
  centres = np.array([[0, 0], [50, 0], [0, 50]], np.float32)
  x, y = make_blobs(90, centers=centres, cluster_std=1.0, random_state=2)
  x = x.astype(np.float32)
  for seed in range(5):
    c = np.asarray(cluster.kmeans_plusplus(x, 3, key=jax.random.key(seed)))
    rows = [np.flatnonzero((x == ci).all(1)) for ci in c]
    assert all(len(r) == 1 for r in rows)       # every centre is a data point
    assert sorted(y[[r[0] for r in rows]]) == [0, 1, 2]


def test_zero_weight_points_are_ignored_and_weights_act_as_counts():
  x = np.array([[0.], [1.], [10.], [11.], [1000.]], np.float32)
  w = np.array([1, 1, 1, 1, 0], np.float32)
  res = cluster.kmeans(x, 2, key=jax.random.key(0), weights=w)
  np.testing.assert_allclose(np.sort(np.asarray(res.centers)[:, 0]), [0.5, 10.5], atol=1e-5)
  np.testing.assert_allclose(float(res.inertia), 1.0, atol=1e-5)
  # Weight 3 on a point equals three copies of it.
  w2 = np.array([3, 1, 1, 1, 0], np.float32)
  init = np.array([[0.], [10.]], np.float32)
  a = cluster.kmeans(x, 2, weights=w2, init=init)
  b = cluster.kmeans(np.concatenate([x[:4], x[:1], x[:1]]), 2, init=init)
  np.testing.assert_allclose(np.asarray(a.centers), np.asarray(b.centers), atol=1e-6)
  np.testing.assert_allclose(float(a.inertia), float(b.inertia), rtol=1e-6)


def test_batched_problems_equal_separate_runs(blobs):
  x, _ = blobs
  xs = np.stack([x[:200], x[200:] * 2.0])
  init = xs[:, :5]
  batched = cluster.kmeans(xs, 5, init=init)
  for i in range(2):
    single = cluster.kmeans(xs[i], 5, init=init[i])
    np.testing.assert_allclose(np.asarray(batched.centers[i]), np.asarray(single.centers),
                               atol=1e-5)
    np.testing.assert_allclose(float(batched.inertia[i]), float(single.inertia), rtol=1e-6)
  res = cluster.kmeans(xs, 5, key=jax.random.PRNGKey(0))    # legacy keys work too
  assert res.centers.shape == (2, 5, 3) and res.labels.shape == (2, 200)


def test_empty_cluster_is_relocated():
  x = np.array([[0.], [0.1], [5.], [5.1], [9.], [9.2]], np.float32)
  init = np.array([[0.], [5.], [1000.]], np.float32)     # third centre attracts nothing
  res = cluster.kmeans(x, 3, init=init)
  sizes = np.asarray(cluster.cluster_sizes(res.labels, 3))
  assert (sizes == 2).all()
  np.testing.assert_allclose(np.sort(np.asarray(res.centers)[:, 0]), [0.05, 5.05, 9.1],
                             atol=1e-5)


def test_jit_and_grad_free_tracing(blobs):
  x, _ = blobs
  f = jax.jit(lambda p, k: cluster.kmeans(p, 5, key=k).inertia)
  eager = cluster.kmeans(x, 5, key=jax.random.key(7)).inertia
  np.testing.assert_allclose(float(f(x, jax.random.key(7))), float(eager), rtol=1e-6)


def _numpy_spherical(x, w, centres, iters=100):
  x = x / np.linalg.norm(x, axis=1, keepdims=True)
  for _ in range(iters):
    labels = np.argmax(x @ centres.T, 1)
    s = np.stack([(w[labels == j, None] * x[labels == j]).sum(0) for j in range(len(centres))])
    centres = s / np.linalg.norm(s, axis=1, keepdims=True)
  return centres, labels, (w * (1 - (x * centres[labels]).sum(1))).sum()


def test_spherical_kmeans_clusters_by_angle_and_matches_reference():
  rng = np.random.RandomState(0)
  angles = np.concatenate([rng.normal(a, 0.15, 30) for a in (0.4, 2.0, 3.6, 5.2)])
  radii = rng.uniform(0.05, 3.0, angles.size)       # length must not matter
  x = np.stack([np.cos(angles), np.sin(angles)], 1) * radii[:, None]
  truth = np.repeat(np.arange(4), 30)
  res = cluster.spherical_kmeans(x, 4, key=jax.random.key(0), num_init=3)
  assert adjusted_rand_score(truth, np.asarray(res.labels)) == 1.0
  np.testing.assert_allclose(np.linalg.norm(np.asarray(res.centers), axis=1), 1.0, atol=1e-6)
  w = rng.uniform(0.2, 1.0, angles.size)
  init = x[[0, 30, 60, 90]]
  ours = cluster.spherical_kmeans(x, 4, weights=w, init=init)
  c, labels, inertia = _numpy_spherical(x, w, init / np.linalg.norm(init, axis=1, keepdims=True))
  np.testing.assert_array_equal(np.asarray(ours.labels), labels)
  np.testing.assert_allclose(np.asarray(ours.centers), c, atol=1e-5)
  np.testing.assert_allclose(float(ours.inertia), inertia, rtol=1e-4)


def test_bad_inputs_name_the_argument(blobs):
  x, _ = blobs
  key = jax.random.key(0)
  with pytest.raises(ValueError, match="points"):
    cluster.kmeans(x[:, 0], 2, key=key)
  with pytest.raises(ValueError, match="k: expected 1 <= k"):
    cluster.kmeans(x[:3], 4, key=key)
  with pytest.raises(ValueError, match="weights: expected shape"):
    cluster.kmeans(x, 2, key=key, weights=np.ones(3))
  with pytest.raises(ValueError, match="weights: expected finite values >= 0"):
    cluster.kmeans(x[:3], 2, key=key, weights=np.array([1., -1., 1.]))
  with pytest.raises(ValueError, match="weights: every problem"):
    cluster.kmeans(x[:3], 2, key=key, weights=np.array([1., 0., 0.]))
  with pytest.raises(ValueError, match="points: expected finite"):
    cluster.kmeans(np.array([[0.], [np.nan], [1.]]), 2, key=key)
  with pytest.raises(ValueError, match="init"):
    cluster.kmeans(x, 2, key=key, init="forgy")
  with pytest.raises(ValueError, match="init: expected centres"):
    cluster.kmeans(x, 2, init=np.zeros((3, 3)))
  with pytest.raises(ValueError, match="key"):
    cluster.spherical_kmeans(x, 2)
  with pytest.raises(ValueError, match="k: expected a Python int"):
    cluster.kmeans(x, 2.0, key=key)
