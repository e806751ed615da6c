"""Issue 21's parts: the trivial baseline's statistics, the rearranging adjectives, the read-outs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from jaxvis.adjectives import controlled, features, search
from jaxvis.adjectives.train import SCAEConfig, init_params


def _images(n=5, size=12, seed=0):
  return np.random.default_rng(seed).uniform(0, 1, (n, size, size, 3)).astype(np.float32)


def test_image_statistics_are_mean_std_and_log_gradient_per_channel():
  x = _images()
  got = np.asarray(features.image_statistics(x))
  assert got.shape == (5, 9) and len(features.IMAGE_STATISTICS) == 9
  np.testing.assert_allclose(got[:, :3], x.mean(axis=(1, 2)), rtol=1e-5)
  np.testing.assert_allclose(got[:, 3:6], x.std(axis=(1, 2)), rtol=1e-4)
  dy = x[:, 1:, :-1] - x[:, :-1, :-1]
  dx = x[:, :-1, 1:] - x[:, :-1, :-1]
  expected = np.log(np.sqrt(dx ** 2 + dy ** 2).mean(axis=(1, 2)) + 1e-4)
  np.testing.assert_allclose(got[:, 6:], expected, rtol=1e-4)
  # A constant image has no gradient: the log stays finite.
  flat = np.asarray(features.image_statistics(np.full((1, 8, 8, 3), 0.5, np.float32)))
  assert np.all(np.isfinite(flat)) and flat[0, 6] == pytest.approx(np.log(1e-4), rel=1e-4)


def test_rearranging_adjectives_keep_pixel_values_photometric_ones_do_not():
  x = _images(size=16)
  sym, flip, scr = (controlled.ADJECTIVES[a](x) for a in ("symmetric", "upside_down", "scrambled"))
  np.testing.assert_array_equal(sym, sym[:, :, ::-1])               # mirror-symmetric
  np.testing.assert_array_equal(sym[:, :, :8], x[:, :, :8])          # left half kept
  np.testing.assert_array_equal(flip, x[:, ::-1])
  np.testing.assert_array_equal(scr[:, :8, :8], x[:, 8:, 8:])        # diagonal swap
  np.testing.assert_array_equal(scr[:, 8:, :8], x[:, :8, 8:])
  np.testing.assert_array_equal(np.sort(scr.ravel()), np.sort(x.ravel()))
  odd = _images(size=15)
  np.testing.assert_array_equal(controlled.symmetric(odd), controlled.symmetric(odd)[:, :, ::-1])
  # Upside-down keeps every one of the nine statistics up to float rounding (a flip maps
  # gradients onto gradients; the forward differences' border moves by one row).
  stats = lambda a: np.asarray(features.image_statistics(a))
  np.testing.assert_allclose(stats(flip)[:, :6], stats(x)[:, :6], rtol=1e-5)
  np.testing.assert_allclose(stats(flip)[:, 6:], stats(x)[:, 6:], atol=0.05)
  # A warm cast moves the channel means by far more.
  assert np.abs(stats(controlled.warm(x))[:, :3] - stats(x)[:, :3]).max() > 0.03


def test_make_query_applies_a_rearranging_adjective_to_the_truly_relevant_crops_only():
  q = controlled.make_query("symmetric", 0.75, 0.25, 16, 28, seed=3)
  images = np.concatenate([q.P, q.Q])
  truth = np.concatenate([q.relevant_p, q.relevant_q])
  symmetric = np.array([np.array_equal(im, im[:, ::-1]) for im in images])
  np.testing.assert_array_equal(symmetric, truth)
  assert q.relevant_p.sum() == 12 and q.relevant_q.sum() == 4
  assert {"symmetric photo", "upside-down photo", "scrambled photo"} <= set(controlled.QUERIES)


def test_readouts_select_the_codes_the_pipeline_reads():
  config = search.SearchConfig.tiny(features=(4, 3))
  top = search.with_readout(config, "top")
  assert (top.feature_levels, top.grid, top.pooling) == ("top", None, ("mean",))
  pooled = search.with_readout(config, "pooled")
  assert (pooled.feature_levels, pooled.grid, pooled.pooling, pooled.standardize) == \
      ("all", 2, ("mean", "log_contrast"), True)
  assert top.scae == config.scae                               # only the read-out changes
  x = _images(n=3, size=28)
  params = init_params(config.scae, x.shape[1:])
  # 28 -> conv 24 -> pool 12 -> conv 8 -> pool 4: the raw top code is 4 x 4 x 3 numbers.
  code = search.encode_set(top, params, x)
  assert code.shape == (3, 4 * 4 * 3) and np.all((code > 0) & (code < 1))   # sigmoid maps
  assert search.encode_set(pooled, params, x).shape == (3, 2 * 2 * (4 + 3) * 2)
  with pytest.raises(ValueError, match="readout: expected one of"):
    search.with_readout(config, "middle")


def test_rank_with_features_is_the_pipeline_after_the_codes():
  # rank_query == query_pairs + train_scae + encode_set + rank_with_features, step for step.
  q = controlled.make_query("warm", 0.8, 0.2, 24, 28, seed=4)
  labels = dict(labels_p=q.labels_p, labels_q=q.labels_q)
  config = search.SearchConfig.tiny(batch_size=8, greedy_steps=0, finetune_steps=0)
  whole = search.rank_query(q.P, q.Q, config, **labels)
  pairs = search.query_pairs(q.P, q.Q, config, **labels)
  np.testing.assert_array_equal(pairs.p, whole.pairs.p)
  fp, fq = (search.encode_set(config, whole.params, x) for x in (q.P, q.Q))
  scores, clusters, _ = search.rank_with_features(fp, fq, pairs, config)
  np.testing.assert_allclose(scores, whole.scores, rtol=1e-6)
  np.testing.assert_array_equal(clusters.labels, whole.clusters.labels)
  # Any per-image features stand in for the codes: the trivial baseline ranks the warm cast.
  stats = [np.asarray(features.image_statistics(x)) for x in (q.P, q.Q)]
  scores, _, _ = search.rank_with_features(*stats, pairs, config)
  truth = np.concatenate([q.relevant_p, q.relevant_q])
  assert search.precision_at(np.argsort(-scores, kind="stable"), truth, 24) > q.relevant_p.mean()
  with pytest.raises(ValueError, match="only 3 pairs"):
    search.query_pairs(q.P[:3], q.Q[:3], config)


def test_image_statistics_names_a_bad_shape():
  with pytest.raises(ValueError, match=r"images: expected \(N, H, W, 3\)"):
    features.image_statistics(np.zeros((2, 8, 8), np.float32))
  with pytest.raises(ValueError, match="images: expected"):
    features.image_statistics(np.zeros((2, 8, 8, 4), np.float32))
