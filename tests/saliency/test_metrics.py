"""Saliency metric, localisation protocol, box baselines."""

import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxvis.saliency import metrics as M


def test_mask_to_box_tight_and_empty():
  m = jnp.zeros((2, 10, 12)).at[0, 2:5, 3:9].set(0.9)
  boxes, found = M.mask_to_box(m)
  np.testing.assert_array_equal(boxes[0], [3, 2, 8, 4])
  np.testing.assert_array_equal(found, [True, False])
  np.testing.assert_array_equal(boxes[1], [0, 0, 11, 9])
  assert bool(M.mask_to_box(jnp.full((1, 4, 4), 0.5))[1][0]) is False  # strictly greater than 0.5


def test_iou_and_localisation_success():
  a = jnp.array([[0.0, 0.0, 9.0, 9.0]])
  np.testing.assert_allclose(M.box_area(a), [100.0])
  gt = jnp.array([[[50.0, 50.0, 60.0, 60.0], [0.0, 0.0, 8.0, 9.0]]])
  assert bool(M.localisation_success(a, gt)[0])
  assert not bool(M.localisation_success(a, gt, gt_valid=jnp.array([[True, False]]))[0])
  assert not bool(M.localisation_success(a, gt, found=jnp.array([False]))[0])
  np.testing.assert_allclose(M.localisation_error(jnp.array([True, False, False, True])), 50.0)


def test_center_box_has_half_area():
  b = M.center_box(3, 64, 32)
  assert b.shape == (3, 4)
  area = (b[0, 2] - b[0, 0] + 1) * (b[0, 3] - b[0, 1] + 1)
  np.testing.assert_allclose(area / (64 * 32), 0.5, rtol=1e-5)
  np.testing.assert_allclose((b[0, 0] + b[0, 2]) / 2, 15.5)
  np.testing.assert_array_equal(M.max_box(1, 8, 6)[0], [0, 0, 5, 7])


def test_saliency_metric_values():
  # a classifier that sees the mean brightness: class 0 logit = 10 * mean, class 1 logit = 0
  clf = lambda x: jnp.stack([10 * jnp.mean(x, axis=(1, 2, 3)), jnp.zeros(x.shape[0])], -1)
  x = jnp.zeros((2, 20, 20, 3)).at[:, 5:10, 5:10].set(1.0)
  tight = jnp.array([[5.0, 5.0, 9.0, 9.0]] * 2)
  s = M.saliency_metric(clf, x, tight, jnp.array([0, 1]))
  a = 25 / 400
  p0 = jax.nn.softmax(jnp.array([10.0, 0.0]))
  np.testing.assert_allclose(s, [math.log(a) - math.log(p0[0]), math.log(a) - math.log(p0[1])], rtol=1e-4)
  whole = M.saliency_metric(clf, x, M.max_box(2, 20, 20), jnp.array([0, 0]))
  assert float(whole[0]) > float(s[0])  # the tight crop is the better explanation for class 0
  tiny = M.saliency_metric(clf, x, jnp.array([[5.0, 5.0, 5.0, 5.0]] * 2), jnp.array([0, 0]))
  np.testing.assert_allclose(tiny + jnp.log(jax.nn.softmax(jnp.array([10.0, 0.0]))[0]), math.log(0.05), rtol=1e-4)
  gt = M.gt_saliency_metric(clf, x, jnp.stack([tight, M.max_box(2, 20, 20)], 1), jnp.array([[True, False]] * 2),
                            jnp.array([0, 1]))
  np.testing.assert_allclose(gt, s, rtol=1e-5)
