"""Pooled code features: statistics on values, softness seen by log contrast, bad names."""

from __future__ import annotations

import numpy as np
import pytest

from jaxvis.adjectives import controlled, features


def _reference_local_contrast(x: np.ndarray) -> np.ndarray:
  padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
  h, w = x.shape[1:3]
  box = sum(padded[:, dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)) / 9.0
  return np.abs(x - box)


def test_statistics_match_a_numpy_reference_per_cell():
  rng = np.random.default_rng(0)
  maps = rng.uniform(size=(2, 7, 6, 3)).astype(np.float32)
  cells = [(slice(0, 4), slice(0, 3)), (slice(0, 4), slice(3, 6)),
           (slice(4, 7), slice(0, 3)), (slice(4, 7), slice(3, 6))]   # uneven rows: 4 + 3
  lc = _reference_local_contrast(maps)
  reference = {
      "mean": [maps[:, ys, xs].mean((1, 2)) for ys, xs in cells],
      "std": [maps[:, ys, xs].std((1, 2)) for ys, xs in cells],
      "contrast": [lc[:, ys, xs].mean((1, 2)) for ys, xs in cells],
      "log_contrast": [np.log(lc[:, ys, xs].mean((1, 2)) + features.CONTRAST_EPS)
                       for ys, xs in cells],
  }
  for stat, want in reference.items():
    got = np.asarray(features.pool_to_grid(maps, 2, stat))
    assert got.shape == (2, 2, 2, 3)
    np.testing.assert_allclose(got.reshape(2, 4, 3), np.stack(want, 1), rtol=1e-5, atol=1e-6)


def test_local_contrast_is_zero_on_flat_maps_and_known_on_a_checkerboard():
  flat = np.full((1, 5, 5, 2), 0.3, np.float32)
  np.testing.assert_allclose(np.asarray(features.local_contrast(flat)), 0.0, atol=1e-7)
  board = (np.indices((6, 6)).sum(0) % 2).astype(np.float32)[None, :, :, None]
  inner = np.asarray(features.local_contrast(board))[0, 1:-1, 1:-1, 0]
  # A 1 sees five 1s in its 3x3 window (box mean 5/9), a 0 sees four (4/9): both differ by 4/9.
  np.testing.assert_allclose(inner, 4 / 9, rtol=1e-6)


def test_blur_lowers_log_contrast_by_a_similar_amount_whatever_the_contrast():
  # The reason for the statistic: softness (a blur) is invisible to the cell mean but
  # shifts the log contrast of a pair's difference consistently.
  photos = controlled.load_photos(("astronaut", "coffee"))
  crops, _ = controlled.random_crops(photos, 6, 52, np.random.default_rng(0))
  crops = np.concatenate([crops, 0.3 * crops + 0.35]).astype(np.float32)   # low-contrast copies
  soft = controlled.soft(crops)
  mean_shift = np.asarray(features.pool_to_grid(soft, 2, "mean")
                          - features.pool_to_grid(crops, 2, "mean"))
  log_shift = np.asarray(features.pool_to_grid(soft, 2, "log_contrast")
                         - features.pool_to_grid(crops, 2, "log_contrast"))
  raw_shift = np.asarray(features.pool_to_grid(soft, 2, "contrast")
                         - features.pool_to_grid(crops, 2, "contrast"))
  assert np.abs(mean_shift).max() < 0.02
  assert (log_shift < -0.8).all()
  # About the same shift for an image and its low-contrast copy (a log-ratio: the content's
  # own contrast cancels), while the raw contrast's shift scales with the content's contrast.
  np.testing.assert_allclose(log_shift[:6], log_shift[6:], atol=0.25)
  np.testing.assert_allclose(raw_shift[6:] / raw_shift[:6], 0.3, rtol=0.1)


def test_pooled_features_concatenate_levels_then_statistics():
  rng = np.random.default_rng(1)
  codes = [rng.uniform(size=(3, 8, 8, 2)).astype(np.float32),
           rng.uniform(size=(3, 4, 4, 5)).astype(np.float32)]
  got = np.asarray(features.pooled_features(codes, 2, ("mean", "std")))
  parts = [features.pool_to_grid(c, 2, s).reshape(3, -1) for c in codes for s in ("mean", "std")]
  np.testing.assert_allclose(got, np.concatenate([np.asarray(p) for p in parts], 1), rtol=1e-6)
  whole = np.asarray(features.pooled_features(codes[:1], None, "mean"))
  np.testing.assert_array_equal(whole, codes[0].reshape(3, -1))


def test_bad_pooling_and_grid_are_named():
  maps = np.zeros((1, 4, 4, 1), np.float32)
  with pytest.raises(ValueError, match="pooling: expected one or more of"):
    features.pool_to_grid(maps, 2, "median")
  with pytest.raises(ValueError, match="pooling: expected one or more of"):
    features.pooled_features([maps], 2, ())
  with pytest.raises(ValueError, match="pooling: grid=None keeps the raw maps"):
    features.pooled_features([maps], None, ("mean", "std"))
  with pytest.raises(ValueError, match="grid: expected 1 <= grid <= 4"):
    features.pool_to_grid(maps, 5)
