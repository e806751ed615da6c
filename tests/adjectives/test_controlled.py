"""The controlled query built from real photos: purities, truth, adjectives."""

from __future__ import annotations

import numpy as np
import pytest

from jaxvis.adjectives import controlled


@pytest.fixture(scope="module")
def photos():
  return controlled.load_photos(("astronaut", "coffee", "china"))


def test_query_has_table1_purities_and_applies_the_adjective(photos):
  q = controlled.make_query("warm", 0.785, 0.18, 40, 28, seed=3, photos=photos)
  assert q.P.shape == q.Q.shape == (40, 28, 28, 3) and q.P.dtype == np.float32
  assert q.relevant_p.sum() == round(0.785 * 40) and q.relevant_q.sum() == round(0.18 * 40)
  x = np.concatenate([q.P, q.Q])
  rel = np.concatenate([q.relevant_p, q.relevant_q])
  red_minus_blue = (x[..., 0] - x[..., 2]).mean((1, 2))
  assert red_minus_blue[rel].mean() > red_minus_blue[~rel].mean() + 0.1
  assert set(np.unique(np.concatenate([q.labels_p, q.labels_q]))) <= {0, 1, 2}


def test_adjectives_change_what_they_name():
  rng = np.random.default_rng(0)
  x = rng.uniform(0.2, 0.8, (2, 100, 100, 3)).astype(np.float32)
  assert controlled.bright(x).mean() > x.mean() + 0.05
  assert controlled.soft(x).std() < 0.5 * x.std()
  w = controlled.warm(x)
  assert w[..., 0].mean() > x[..., 0].mean() and w[..., 2].mean() < x[..., 2].mean()
  for f in controlled.ADJECTIVES.values():
    y = f(x)
    assert y.dtype == np.float32 and y.min() >= 0 and y.max() <= 1


def test_bad_names():
  with pytest.raises(ValueError, match="adjective"):
    controlled.make_query("spicy", 0.5, 0.1, 4, 28)
  with pytest.raises(ValueError, match="names: unknown photo"):
    controlled.load_photos(("moon_landing",))
