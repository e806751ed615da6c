"""The pyramid plan packs every level into the mosaic without overlap, at even offsets, tightly."""

import itertools

import jax.numpy as jnp
import numpy as np
import pytest

from jaxvis.faces import pyramid


@pytest.mark.parametrize("hw", [(480, 640), (1080, 1920), (3000, 4000), (64, 64), (40, 900), (900, 40)])
def test_levels_do_not_overlap_and_sit_at_even_offsets(hw):
  p = pyramid.plan(*hw, 20.0, 0.709)
  assert [l.scale for l in p.levels] == pyramid.pyramid_scales(*hw, 20.0, 0.709)
  for lv in p.levels:
    assert lv.top % 2 == 0 and lv.left % 2 == 0      # P-Net's stride-2 grid lines up
    assert lv.top + lv.height <= p.height and lv.left + lv.width <= p.width
  for a, b in itertools.combinations(p.levels, 2):
    assert (a.top + a.height <= b.top or b.top + b.height <= a.top
            or a.left + a.width <= b.left or b.left + b.width <= a.left), (a, b)


@pytest.mark.parametrize("hw", [(480, 640), (1080, 1920), (3000, 4000)])
def test_mosaic_is_mostly_image(hw):
  p = pyramid.plan(*hw, 20.0, 0.709)
  used = sum(l.height * l.width for l in p.levels)
  assert used / (p.height * p.width) > 0.85            # shelves of levels gave 0.78


def test_skyline_places_a_rectangle_in_the_lowest_gap():
  # a wide bar, a tall block at the right, then a small one: it goes under nothing but the bar
  places = pyramid._skyline([(10, 40), (30, 20), (8, 10)], limit=60)
  assert places == [(0, 0), (0, 40), (10, 0)]


@pytest.mark.parametrize("shape,axis", [((2, 100, 70, 3), 1), ((2, 100, 70, 3), 2), ((1, 5, 7, 3), 1),
                                        ((1, 1100, 2, 20), 1), ((3, 2, 300, 3), 2), ((4, 1), 1)])
def test_blocked_cumsum_matches_float64_running_sums(shape, axis):
  # block matrix products, recursion over block totals (1100 > 32 * 32), ragged last blocks,
  # runs shorter than a block, the long-row and channel-interleaved forms
  x = np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)
  got = np.asarray(pyramid._exclusive_cumsum(jnp.asarray(x), axis))  # CPU: block products
  want = np.cumsum(x.astype(np.float64), axis=axis)
  want = np.concatenate([np.zeros_like(np.take(want, [0], axis=axis)), want], axis=axis)
  assert got.shape == want.shape
  np.testing.assert_allclose(got, want, atol=2e-5 * np.sqrt(shape[axis]) + 1e-6, rtol=0)
  lean = np.asarray(pyramid._exclusive_cumsum(jnp.asarray(x), axis, fast=False))
  np.testing.assert_allclose(got, lean, atol=2e-5 * np.sqrt(shape[axis]) + 1e-6, rtol=0)
