import numpy as np
import pytest

from jaxvis.outfits import metrics


def test_auc_matches_pairwise_definition_with_ties():
  rng = np.random.default_rng(0)
  scores = rng.integers(0, 5, 40).astype(float)
  labels = rng.integers(0, 2, 40)
  pos, neg = scores[labels == 1], scores[labels == 0]
  expected = np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg])
  assert metrics.auc(scores, labels) == pytest.approx(expected)
  assert metrics.auc([0.9, 0.8, 0.1], [1, 1, 0]) == 1.0
  with pytest.raises(ValueError, match="both positive and negative"):
    metrics.auc([0.1, 0.2], [1, 1])
  with pytest.raises(ValueError, match="scores: contains NaN"):
    metrics.auc([np.nan, 0.2], [1, 0])


def test_accuracy_precision_fitb():
  s, y = [0.9, 0.6, 0.4, 0.2], [1, 0, 1, 0]
  assert metrics.accuracy(s, y) == 0.5
  assert metrics.precision(s, y) == 0.5
  assert np.isnan(metrics.precision([0.1], [1]))
  assert metrics.fitb_accuracy([[0.1, 0.9], [0.8, 0.2], [0.3, 0.4]], [1, 1, 1]) == pytest.approx(2 / 3)
  # a tie for the best shares the credit: position never decides
  assert metrics.fitb_accuracy([[0.5, 0.5, 0.1, 0.5]], [0]) == pytest.approx(1 / 3)
  assert metrics.fitb_accuracy([[0.5, 0.5, 0.1, 0.5]], [2]) == 0.0
  with pytest.raises(ValueError, match="labels: expected only 0 and 1"):
    metrics.accuracy([0.5], [2])
