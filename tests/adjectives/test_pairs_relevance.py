"""Pair construction, K-means on pair differences, the relevance function."""

from __future__ import annotations

import dataclasses
import itertools

import jax
import numpy as np
import pytest

from jaxvis.adjectives import pairs, relevance, search


def test_one_to_one_matching_is_optimal_on_a_small_problem():
  rng = np.random.default_rng(0)
  sim = rng.uniform(-1, 1, (5, 5))
  rows, cols = pairs.match_one_to_one(sim)
  best = max(itertools.permutations(range(5)), key=lambda p: sim[range(5), p].sum())
  np.testing.assert_allclose(sim[rows, cols].sum(), sim[range(5), best].sum())
  assert sorted(cols) == list(range(5))


def test_pairs_by_similarity_and_by_labels():
  rng = np.random.default_rng(1)
  fq = rng.normal(size=(6, 8)).astype(np.float32)
  perm = np.array([3, 0, 5, 1, 4, 2])
  fp = fq[perm] * 2.0 + 0.01 * rng.normal(size=(6, 8)).astype(np.float32)   # scaled copies
  got = pairs.make_pairs(fp, fq)
  np.testing.assert_array_equal(got.p, np.arange(6))
  np.testing.assert_array_equal(got.q, perm)
  assert (got.similarity > 0.99).all()
  # With labels, the best overall match is refused when labels differ.
  labels_p = ["dog", "dog", "cat", "cat", "cow", "cow"]
  labels_q = ["cat", "dog", "dog", "cat", "bird", "bird"]
  got = pairs.make_pairs(fp, fq, labels_p=labels_p, labels_q=labels_q)
  assert len(got.p) == 4
  assert all(labels_p[i] == labels_q[j] for i, j in zip(got.p, got.q))
  assert len(set(got.q)) == len(got.q)
  with pytest.raises(ValueError, match="labels_p, labels_q: give both"):
    pairs.make_pairs(fp, fq, labels_p=labels_p)
  with pytest.raises(ValueError, match="features_p, features_q"):
    pairs.make_pairs(fp, fq[:, :3])


def test_object_features_ignore_brightness_and_colour_cast():
  rng = np.random.default_rng(2)
  img = rng.uniform(0.1, 0.8, (3, 40, 40, 3)).astype(np.float32)
  cast = np.clip(img * np.array([1.2, 1.0, 0.8], np.float32) + 0.05, 0, 1)
  f, g = pairs.object_features(img), pairs.object_features(cast)
  sim = np.asarray(pairs.cosine_similarity(f, g))
  assert (np.diag(sim) > 0.97).all()
  assert (sim[~np.eye(3, dtype=bool)] < 0.5).all()
  with pytest.raises(ValueError, match="images"):
    pairs.object_features(img[0])


def test_largest_cluster_of_differences_is_selected():
  rng = np.random.default_rng(3)
  shift = np.r_[3.0, 0, 0, 0]
  diffs = np.concatenate([shift + 0.3 * rng.normal(size=(30, 4)),
                          0.3 * rng.normal(size=(12, 4))]).astype(np.float32)
  got = relevance.cluster_pairs(diffs, 2, key=jax.random.key(0), num_init=3)
  assert sorted(got.sizes.tolist()) == [12, 30]
  assert got.selected[:30].all() and not got.selected[30:].any()
  with pytest.raises(ValueError, match="differences"):
    relevance.cluster_pairs(diffs[:1], 2, key=jax.random.key(0))


def test_standardized_kmeans_finds_the_group_a_large_scale_feature_hides():
  # Feature 0 separates 30 pairs from 12 by 6 of its unit noise; feature 1 is pure noise
  # 20x larger. Raw K-means splits along feature 1; standardised, along feature 0.
  rng = np.random.default_rng(5)
  informative = np.r_[np.full(30, 6.0), np.zeros(12)] + rng.normal(size=42)
  nuisance = 20.0 * rng.normal(size=42)
  diffs = np.stack([informative, nuisance], 1).astype(np.float32)
  raw = relevance.cluster_pairs(diffs, 2, key=jax.random.key(0), num_init=5)
  std = relevance.cluster_pairs(diffs, 2, key=jax.random.key(0), num_init=5, standardize=True)
  assert std.selected[:30].all() and not std.selected[30:].any()
  assert not (raw.selected[:30].all() and not raw.selected[30:].any())
  z = relevance.standardize_columns(diffs)
  np.testing.assert_allclose(z.mean(0), 0, atol=1e-5)
  np.testing.assert_allclose(z.std(0), 1, atol=1e-4)


def test_pairwise_relevance_learns_what_differs_within_pairs():
  # Every pair shares a large random "scene" vector; the relevant image adds +1 on feature 0.
  rng = np.random.default_rng(6)
  scene = 5.0 * rng.normal(size=(60, 4))
  pos = scene + np.r_[1.0, 0, 0, 0] + 0.2 * rng.normal(size=(60, 4))
  neg = scene + 0.2 * rng.normal(size=(60, 4))
  model = relevance.fit_relevance(pos, neg, method="pairwise", steps=300)
  w = np.asarray(model.w) / np.asarray(model.std)          # weight on the raw features
  assert w[0] > 0 and abs(w[0]) > 5 * np.abs(w[1:]).max()
  scores = np.asarray(relevance.relevance_scores(model, np.concatenate([pos, neg])))
  assert (scores[:60] > scores[60:]).mean() > 0.95          # every pair ordered correctly
  with pytest.raises(ValueError, match="method='pairwise' needs the two images of every pair"):
    relevance.fit_relevance(pos, neg[:-1], method="pairwise")


@pytest.mark.parametrize("method", ["logistic", "centroid"])
def test_relevance_function_ranks_the_adjective_first(method):
  rng = np.random.default_rng(4)
  pos = rng.normal(size=(40, 6)) + np.r_[3.0, 0, 0, 0, 0, 0]
  neg = rng.normal(size=(40, 6))
  model = relevance.fit_relevance(pos, neg, method=method, steps=200)
  test_pos = rng.normal(size=(50, 6)) + np.r_[3.0, 0, 0, 0, 0, 0]
  test_neg = rng.normal(size=(50, 6))
  scores = np.asarray(relevance.relevance_scores(model, np.concatenate([test_pos, test_neg])))
  truth = np.r_[np.ones(50, bool), np.zeros(50, bool)]
  assert search.precision_at(relevance.rank(scores), truth, 50) > 0.8
  assert ((scores > 0) & (scores < 1)).all()
  with pytest.raises(ValueError, match="method"):
    relevance.fit_relevance(pos, neg, method="svm")


def test_ranking_metrics():
  truth = np.array([1, 0, 1, 0], bool)
  assert search.precision_at(np.array([0, 2, 1, 3]), truth, 2) == 1.0
  assert search.precision_at(np.array([1, 0, 2, 3]), truth, 2) == 0.5
  np.testing.assert_allclose(search.average_precision(np.array([0.9, 0.8, 0.1, 0.2]), truth),
                             (1 / 1 + 2 / 4) / 2)
  with pytest.raises(ValueError, match="n: expected"):
    search.precision_at(np.arange(4), truth, 0)


def test_rank_query_checks_feature_settings_before_training():
  images = np.full((8, 28, 28, 3), 0.5, np.float32)
  tiny = search.SearchConfig.tiny()
  with pytest.raises(ValueError, match="pooling: expected one or more of"):
    search.rank_query(images, images, dataclasses.replace(tiny, pooling=("median",)))
  with pytest.raises(ValueError, match="pooling: grid=None keeps the raw maps"):
    search.rank_query(images, images, dataclasses.replace(tiny, grid=None))
  with pytest.raises(ValueError, match="levels: expected one of"):
    search.rank_query(images, images, dataclasses.replace(tiny, feature_levels="middle"))
