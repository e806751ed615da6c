"""AV-plane steps: impression points, quadrants, narrowing, clustering, songs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxvis.music import plane

IMP_VA = jnp.array([[0.8, 0.6], [-0.6, 0.8], [-0.8, -0.6], [0.6, -0.8]], jnp.float32)


def test_impression_points_weighting_a_and_b():
  imp_vecs = jnp.eye(4)
  words = jnp.array([[1.0, 0.5, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
  w = jnp.array([1.0, 0.25])
  ok = jnp.array([True, True])
  pts, wt, valid = plane.impression_points(words, w, ok, imp_vecs, IMP_VA, k=2,
                                           weighting="area")
  # Method A: every top-k impression word of X gets weight(X), whatever its similarity.
  np.testing.assert_allclose(np.asarray(wt), [1, 1, 0.25, 0.25])
  np.testing.assert_allclose(np.asarray(pts[:2]), np.asarray(IMP_VA[:2]), atol=1e-6)
  np.testing.assert_allclose(np.asarray(pts[2]), 0.25 * np.asarray(IMP_VA[3]), atol=1e-6)
  assert np.asarray(valid).all()
  pts, wt, _ = plane.impression_points(words, jnp.ones(2), ok, imp_vecs, IMP_VA, k=2,
                                       weighting="similarity")
  # Method B: similarities normalised so the best is 1 (cos 0.894 and 0.447 -> 1 and 0.5).
  np.testing.assert_allclose(np.asarray(wt[:2]), [1.0, 0.5], atol=1e-5)
  np.testing.assert_allclose(np.asarray(pts[1]), 0.5 * np.asarray(IMP_VA[1]), atol=1e-5)
  with pytest.raises(ValueError, match="weighting"):
    plane.impression_points(words, w, ok, imp_vecs, IMP_VA, weighting="mean")


def test_invalid_words_contribute_nothing():
  pts, wt, valid = plane.impression_points(jnp.eye(4)[:2], jnp.ones(2), jnp.array([True, False]),
                                           jnp.eye(4), IMP_VA, k=1)
  assert np.asarray(valid).tolist() == [True, False]
  np.testing.assert_allclose(np.asarray(pts[1]), 0.0)


def test_quadrants_and_narrowing():
  pts = jnp.array([[0.5, 0.5], [-0.5, 0.1], [-0.2, -0.3], [0.3, -0.1], [0.0, 0.0]])
  assert np.asarray(plane.quadrant_of(pts)).tolist() == [1, 2, 3, 4, 1]
  counts = plane.quadrant_counts(pts, jnp.array([True, True, True, True, False]))
  assert np.asarray(counts).tolist() == [1, 1, 1, 1]
  counts = jnp.array([4.0, 1.0, 1.0, 0.0])
  assert int(plane.choose_quadrant(counts, jnp.ones(4))) == 1
  # Normalising by reference averages can flip the choice (paper 4.4).
  assert int(plane.choose_quadrant(counts, jnp.array([4.0, 0.5, 1.0, 1.0]))) == 2
  assert int(plane.choose_quadrant(jnp.zeros(4), jnp.ones(4))) == 0
  ref = plane.reference_means(jnp.array([[2.0, 0, 1, 1], [4.0, 2, 1, 1]]))
  np.testing.assert_allclose(np.asarray(ref), [3, 1, 1, 1])


def test_spherical_clusters_recover_four_directions_and_nearest_songs():
  rng = np.random.default_rng(0)
  dirs = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], np.float32) / np.sqrt(2)
  pts = np.concatenate([d * rng.uniform(0.2, 0.9, (10, 1)) +
                        rng.normal(0, 0.02, (10, 2)) for d in dirs]).astype(np.float32)
  valid = np.ones(40, bool)
  valid[-1] = False
  # Padded to the pipeline's 32 words x 5 points with invalid (ignored) points.
  padded = np.concatenate([pts, rng.normal(size=(120, 2)).astype(np.float32)])
  cl = plane.cluster_points(jnp.asarray(padded), jnp.asarray(np.pad(valid, (0, 120))), 0)
  labels = np.asarray(cl.labels)[:40]
  for g in range(4):
    assert len(set(labels[g * 10:(g + 1) * 10][valid[g * 10:(g + 1) * 10]])) == 1
  assert sorted(np.asarray(cl.mass).tolist()) == [9, 10, 10, 10]
  quads = sorted(np.asarray(plane.quadrant_of(cl.centers)).tolist())
  assert quads == [1, 2, 3, 4]
  g0 = labels[0]
  np.testing.assert_allclose(np.asarray(cl.centers[g0]), pts[:10].mean(0), atol=1e-5)
  songs = jnp.array([[0.9, 0.9], [-0.5, 0.5], [-0.4, -0.4], [0.5, -0.5], [0.0, 0.0]])
  idx, dist = plane.nearest_songs(cl.centers, songs)
  d_all = np.linalg.norm(np.asarray(cl.centers)[:, None] - np.asarray(songs)[None], axis=-1)
  np.testing.assert_array_equal(np.asarray(idx), d_all.argmin(1))
  np.testing.assert_allclose(np.asarray(dist),
                             np.linalg.norm(np.asarray(cl.centers) - np.asarray(songs)[np.asarray(idx)], axis=1),
                             atol=1e-6)
  chosen = plane.narrowed_clusters(cl, jnp.asarray(3))
  assert np.asarray(chosen).sum() == 1
  assert int(plane.quadrant_of(cl.centers[int(np.argmax(np.asarray(chosen)))])) == 3
