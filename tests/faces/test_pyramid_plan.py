"""The pyramid plan packs every level into the mosaic without overlap, at even offsets, tightly."""

import itertools

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
