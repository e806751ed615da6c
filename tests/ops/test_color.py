"""Tests for jaxvis.ops.color: sRGB -> Lab, CIEDE2000 and colour naming."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxvis.ops import color

# The 34 reference pairs of Table 1 in G. Sharma, W. Wu, E. N. Dalal, "The CIEDE2000
# color-difference formula: implementation notes, supplementary test data, and
# mathematical observations", Color Research & Application 30(1):21-30, 2005.
# Columns: L1, a1, b1, L2, a2, b2, Delta E_00 (published values, 4 decimals).
SHARMA_2005 = np.array([
    [50.0000, 2.6772, -79.7751, 50.0000, 0.0000, -82.7485, 2.0425],
    [50.0000, 3.1571, -77.2803, 50.0000, 0.0000, -82.7485, 2.8615],
    [50.0000, 2.8361, -74.0200, 50.0000, 0.0000, -82.7485, 3.4412],
    [50.0000, -1.3802, -84.2814, 50.0000, 0.0000, -82.7485, 1.0000],
    [50.0000, -1.1848, -84.8006, 50.0000, 0.0000, -82.7485, 1.0000],
    [50.0000, -0.9009, -85.5211, 50.0000, 0.0000, -82.7485, 1.0000],
    [50.0000, 0.0000, 0.0000, 50.0000, -1.0000, 2.0000, 2.3669],
    [50.0000, -1.0000, 2.0000, 50.0000, 0.0000, 0.0000, 2.3669],
    [50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0009, 7.1792],
    [50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0010, 7.1792],
    [50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0011, 7.2195],
    [50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0012, 7.2195],
    [50.0000, -0.0010, 2.4900, 50.0000, 0.0009, -2.4900, 4.8045],
    [50.0000, -0.0010, 2.4900, 50.0000, 0.0010, -2.4900, 4.8045],
    [50.0000, -0.0010, 2.4900, 50.0000, 0.0011, -2.4900, 4.7461],
    [50.0000, 2.5000, 0.0000, 50.0000, 0.0000, -2.5000, 4.3065],
    [50.0000, 2.5000, 0.0000, 73.0000, 25.0000, -18.0000, 27.1492],
    [50.0000, 2.5000, 0.0000, 61.0000, -5.0000, 29.0000, 22.8977],
    [50.0000, 2.5000, 0.0000, 56.0000, -27.0000, -3.0000, 31.9030],
    [50.0000, 2.5000, 0.0000, 58.0000, 24.0000, 15.0000, 19.4535],
    [50.0000, 2.5000, 0.0000, 50.0000, 3.1736, 0.5854, 1.0000],
    [50.0000, 2.5000, 0.0000, 50.0000, 3.2972, 0.0000, 1.0000],
    [50.0000, 2.5000, 0.0000, 50.0000, 1.8634, 0.5757, 1.0000],
    [50.0000, 2.5000, 0.0000, 50.0000, 3.2592, 0.3350, 1.0000],
    [60.2574, -34.0099, 36.2677, 60.4626, -34.1751, 39.4387, 1.2644],
    [63.0109, -31.0961, -5.8663, 62.8187, -29.7946, -4.0864, 1.2630],
    [61.2901, 3.7196, -5.3901, 61.4292, 2.2480, -4.9620, 1.8731],
    [35.0831, -44.1164, 3.7933, 35.0232, -40.0716, 1.5901, 1.8645],
    [22.7233, 20.0904, -46.6940, 23.0331, 14.9730, -42.5619, 2.0373],
    [36.4612, 47.8580, 18.3852, 36.2715, 50.5065, 21.2231, 1.4146],
    [90.8027, -2.0831, 1.4410, 91.1528, -1.6435, 0.0447, 1.4441],
    [90.9257, -0.5406, -0.9208, 88.6381, -0.8985, -0.7239, 1.5381],
    [6.7747, -0.2908, -2.4247, 5.8714, -0.0985, -2.2286, 0.6377],
    [2.0776, 0.0795, -1.1350, 0.9033, -0.0636, -0.5514, 0.9082],
])


def test_sharma_table_has_34_pairs():
  assert SHARMA_2005.shape == (34, 7)


def test_ciede2000_matches_sharma_2005_table_to_1e4():
  lab1, lab2, want = SHARMA_2005[:, :3], SHARMA_2005[:, 3:6], SHARMA_2005[:, 6]
  got = np.asarray(jax.jit(color.ciede2000)(lab1, lab2))
  np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)
  # The formula is symmetric; the table's pair 8 is pair 7 swapped.
  np.testing.assert_allclose(np.asarray(color.ciede2000(lab2, lab1)), want, atol=1e-4, rtol=0)


def test_ciede2000_broadcasts_to_all_pairs_and_is_zero_on_diagonal():
  lab = jnp.asarray(SHARMA_2005[:5, :3])
  d = color.ciede2000(lab[:, None], lab[None, :])
  assert d.shape == (5, 5)
  np.testing.assert_allclose(np.diag(np.asarray(d)), 0.0, atol=1e-6)
  np.testing.assert_allclose(float(d[0, 1]), float(color.ciede2000(lab[0], lab[1])), atol=1e-6)


def test_ciede2000_kl_halves_a_pure_lightness_difference():
  a, b = jnp.array([80.0, 5.0, 5.0]), jnp.array([50.0, 5.0, 5.0])
  assert float(color.ciede2000(a, b, kl=2.0)) == pytest.approx(float(color.ciede2000(a, b)) / 2,
                                                               rel=1e-6)


def test_srgb_to_lab_known_values():
  # Reference Lab (D65) values of the sRGB primaries and white.
  rgb = np.array([[1, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]], np.float32)
  want = np.array([[100.0, 0.0, 0.0], [53.24, 80.09, 67.20], [87.73, -86.18, 83.18],
                   [32.30, 79.19, -107.86], [0.0, 0.0, 0.0]])
  np.testing.assert_allclose(np.asarray(color.srgb_to_lab(rgb)), want, atol=0.02)
  # An independent implementation agrees on random colours.
  from skimage import color as skcolor
  rand = np.random.default_rng(0).random((64, 3)).astype(np.float32)
  np.testing.assert_allclose(np.asarray(color.srgb_to_lab(rand)),
                             skcolor.rgb2lab(rand.astype(np.float64)), atol=2e-3)
  u8 = (rgb * 255).astype(np.uint8)
  np.testing.assert_allclose(np.asarray(color.srgb_to_lab(u8)), want, atol=0.02)


def test_named_color_tables_and_nearest():
  xkcd = color.named_colors("xkcd")
  css = color.named_colors("css")
  assert len(xkcd) == 949 and len(css) == 148
  assert "CC0" in xkcd.source
  # A table colour is its own nearest neighbour.
  i = xkcd.names.index("dusty rose")
  idx, de = color.nearest_color(xkcd.lab[i], xkcd.lab)
  assert xkcd.names[int(idx)] == "dusty rose" and float(de) == pytest.approx(0.0, abs=1e-4)
  assert color.name_colors([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], "css") == ["red", "blue"]
  # A slightly perturbed colour still maps to the right CSS name.
  assert color.name_colors(np.array([[250, 5, 3]], np.uint8), css) == ["red"]


def test_bad_inputs_name_the_argument():
  with pytest.raises(ValueError, match="lab1"):
    color.ciede2000(jnp.zeros((4, 2)), jnp.zeros((4, 3)))
  with pytest.raises(ValueError, match="rgb"):
    color.srgb_to_lab(jnp.zeros((4,)))
  with pytest.raises(ValueError, match="table"):
    color.named_colors("pantone")
  with pytest.raises(ValueError, match="table_lab"):
    color.nearest_color(jnp.zeros((3,)), jnp.zeros((0, 3)))


@pytest.mark.parametrize("lab", [[50.0, 2.5, -3.0], [60.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
def test_ciede2000_gradient_is_finite_at_identical_colours(lab):
  # sqrt / hypot / atan2 are not differentiable at 0: the gradient there must be 0, not NaN.
  lab = jnp.asarray(lab)
  g1, g2 = jax.grad(lambda x, y: color.ciede2000(x, y), argnums=(0, 1))(lab, lab)
  np.testing.assert_array_equal(np.asarray(g1), 0.0)
  np.testing.assert_array_equal(np.asarray(g2), 0.0)
  # Grey against a colour (zero chroma on one side only) stays finite too.
  g = jax.grad(lambda x: color.ciede2000(x, jnp.array([50.0, 10.0, 10.0])))(
      jnp.array([50.0, 0.0, 0.0]))
  assert np.isfinite(np.asarray(g)).all()


def test_ciede2000_gradient_matches_finite_differences():
  lab1 = np.array([50.0, 2.6772, -79.7751])
  lab2 = np.array([55.0, 0.5, -70.0])
  f = lambda x: color.ciede2000(x, jnp.asarray(lab2, jnp.float32))
  g = np.asarray(jax.grad(f)(jnp.asarray(lab1, jnp.float32)))
  eps = 1e-2
  fd = [(float(f(jnp.asarray(lab1 + eps * e, jnp.float32)))
         - float(f(jnp.asarray(lab1 - eps * e, jnp.float32)))) / (2 * eps) for e in np.eye(3)]
  np.testing.assert_allclose(g, fd, rtol=2e-2, atol=2e-3)
