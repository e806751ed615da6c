"""jaxvis.ops.boxes: IoU, NMS (fast/greedy, union/min, groups), regression, squaring, clipping."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxvis.ops import boxes as B


def _np_overlap(a, b, mode, offset):
  out = np.zeros((len(a), len(b)))
  for i, p in enumerate(a):
    for j, q in enumerate(b):
      iw = max(0.0, min(p[2], q[2]) - max(p[0], q[0]) + offset)
      ih = max(0.0, min(p[3], q[3]) - max(p[1], q[1]) + offset)
      inter = iw * ih
      ap = (p[2] - p[0] + offset) * (p[3] - p[1] + offset)
      aq = (q[2] - q[0] + offset) * (q[3] - q[1] + offset)
      den = ap + aq - inter if mode == "union" else min(ap, aq)
      out[i, j] = inter / den if den > 0 else 0.0
  return out


def _random_boxes(rng, n):
  xy = rng.uniform(0, 50, (n, 2))
  wh = rng.uniform(1, 30, (n, 2))
  return np.concatenate([xy, xy + wh], 1).astype(np.float32)


@pytest.mark.parametrize("mode", ["union", "min"])
@pytest.mark.parametrize("offset", [0.0, 1.0])
def test_overlap_matches_bruteforce(mode, offset):
  rng = np.random.default_rng(0)
  a, b = _random_boxes(rng, 7), _random_boxes(rng, 5)
  got = B.pairwise_overlap(jnp.asarray(a), jnp.asarray(b), mode, offset)
  np.testing.assert_allclose(got, _np_overlap(a, b, mode, offset), rtol=1e-5, atol=1e-6)


def test_iou_known_values_and_batching():
  a = jnp.array([[[0., 0., 10., 10.]], [[0., 0., 2., 2.]]])
  b = jnp.array([[[5., 0., 15., 10.], [20., 20., 30., 30.]], [[0., 0., 2., 2.], [1., 1., 3., 3.]]])
  got = B.iou(a, b)
  np.testing.assert_allclose(got, [[[50 / 150, 0.0]], [[1.0, 1 / 7]]], rtol=1e-6)


def _np_nms(boxes, scores, thr, mode, method):
  order = np.argsort(-scores, kind="stable")
  ov = _np_overlap(boxes, boxes, mode, 0.0)
  keep = np.zeros(len(boxes), bool)
  alive = np.ones(len(boxes), bool)
  for r, i in enumerate(order):
    if method == "fast":
      keep[i] = not any(ov[j, i] > thr for j in order[:r])
    elif alive[i]:
      keep[i] = True
      for j in order[r + 1:]:
        if ov[i, j] > thr:
          alive[j] = False
  return keep


@pytest.mark.parametrize("method", ["fast", "greedy"])
@pytest.mark.parametrize("mode", ["union", "min"])
def test_nms_matches_reference_algorithms(method, mode):
  rng = np.random.default_rng(1)
  boxes = _random_boxes(rng, 40)
  scores = rng.permutation(40).astype(np.float32)
  keep = B.nms(jnp.asarray(boxes), jnp.asarray(scores), jnp.ones(40, bool), 0.3, mode, method)
  np.testing.assert_array_equal(keep, _np_nms(boxes, scores, 0.3, mode, method))


def test_fast_and_greedy_differ_on_a_chain():
  # A > B > C in score; A overlaps B, B overlaps C, A does not overlap C.
  boxes = jnp.array([[0., 0., 10., 10.], [5., 0., 15., 10.], [10., 0., 20., 10.]])
  scores = jnp.array([0.9, 0.8, 0.7])
  valid = jnp.ones(3, bool)
  fast = B.nms(boxes, scores, valid, 0.3, method="fast")
  greedy = B.nms(boxes, scores, valid, 0.3, method="greedy")
  np.testing.assert_array_equal(fast, [True, False, False])
  np.testing.assert_array_equal(greedy, [True, False, True])


def test_nms_invalid_boxes_neither_kept_nor_suppress_and_groups_are_separate():
  boxes = jnp.array([[0., 0., 10., 10.], [0., 0., 10., 10.], [1., 1., 10., 10.]])
  scores = jnp.array([0.9, 0.8, 0.7])
  keep = B.nms(boxes, scores, jnp.array([False, True, True]), 0.5)
  np.testing.assert_array_equal(keep, [False, True, False])
  keep = B.nms(boxes, scores, jnp.ones(3, bool), 0.5, groups=jnp.array([0, 1, 1]))
  np.testing.assert_array_equal(keep, [True, True, False])


def test_nms_is_jittable_and_batched():
  rng = np.random.default_rng(2)
  boxes = np.stack([_random_boxes(rng, 16) for _ in range(3)])
  scores = rng.uniform(size=(3, 16)).astype(np.float32)
  valid = np.ones((3, 16), bool)
  f = jax.jit(lambda b, s, v: B.nms(b, s, v, 0.4))
  got = f(boxes, scores, valid)
  for i in range(3):
    np.testing.assert_array_equal(got[i], _np_nms(boxes[i], scores[i], 0.4, "union", "fast"))


def test_regress_square_clip():
  box = jnp.array([[10., 20., 29., 59.]])  # w = 20, h = 40 with offset 1
  out = B.regress(box, jnp.array([[0.1, -0.1, 0.5, 0.25]]), offset=1.0)
  np.testing.assert_allclose(out, [[12., 16., 39., 69.]])
  sq = B.square(jnp.array([[0., 0., 10., 20.]]))
  np.testing.assert_allclose(sq, [[-5., 0., 15., 20.]])
  sq_int = B.square(jnp.array([[0., 0., 9., 20.]]), round_to_int=True)
  np.testing.assert_allclose(sq_int, [[-5., 0., 14., 20.]])  # fix(-5.5), fix(14.5)
  clipped = B.clip(jnp.array([[[-5., 3., 120., 90.]], [[-5., 3., 120., 90.]]]),
                   jnp.array([[50, 100], [200, 80]]))
  np.testing.assert_allclose(clipped, [[[0., 3., 99., 49.]], [[0., 3., 79., 90.]]])
  xywh = B.xyxy_to_xywh(jnp.array([1., 2., 4., 8.]))
  np.testing.assert_allclose(B.xywh_to_xyxy(xywh), [1., 2., 4., 8.])


def test_bad_inputs_name_the_argument():
  with pytest.raises(ValueError, match="boxes"):
    B.nms(jnp.zeros((3, 5)), jnp.zeros(3), jnp.ones(3, bool), 0.5)
  with pytest.raises(ValueError, match="scores/valid"):
    B.nms(jnp.zeros((3, 4)), jnp.zeros(4), jnp.ones(3, bool), 0.5)
  with pytest.raises(ValueError, match="mode"):
    B.pairwise_overlap(jnp.zeros((2, 4)), jnp.zeros((2, 4)), "max")
  with pytest.raises(ValueError, match="method"):
    B.nms(jnp.zeros((3, 4)), jnp.zeros(3), jnp.ones(3, bool), 0.5, method="soft")
  with pytest.raises(ValueError, match="sizes"):
    B.clip(jnp.zeros((2, 3, 4)), jnp.zeros((3, 2)))
  with pytest.raises(ValueError, match="deltas"):
    B.regress(jnp.zeros((2, 4)), jnp.zeros((3, 4)))


@pytest.mark.parametrize("method", ["fast", "greedy"])
def test_nms_on_empty_sets(method):
  """0 boxes (or 0 images) give an empty keep mask, not a ZeroDivisionError from reshape(-1, 0, 4)."""
  keep = B.nms(jnp.zeros((0, 4)), jnp.zeros((0,)), jnp.zeros((0,), bool), 0.5, method=method)
  assert keep.shape == (0,) and keep.dtype == bool
  keep = B.nms(jnp.zeros((3, 0, 4)), jnp.zeros((3, 0)), jnp.zeros((3, 0), bool), 0.5, method=method)
  assert keep.shape == (3, 0)
  keep = B.nms(jnp.zeros((0, 5, 4)), jnp.zeros((0, 5)), jnp.zeros((0, 5), bool), 0.5, method=method)
  assert keep.shape == (0, 5)
  keep = jax.jit(lambda b, s, v: B.nms(b, s, v, 0.5, method=method))(
      jnp.zeros((2, 0, 4)), jnp.zeros((2, 0)), jnp.zeros((2, 0), bool))
  assert keep.shape == (2, 0)


def test_blocked_fast_nms_equals_the_one_matrix_version(monkeypatch):
  """Past _FAST_NMS_BLOCK boxes fast NMS runs in column blocks (memory n x block): same keep mask."""
  rng = np.random.default_rng(5)
  boxes = np.stack([_random_boxes(rng, 300) for _ in range(2)])
  scores = rng.uniform(size=(2, 300)).astype(np.float32)
  valid = rng.uniform(size=(2, 300)) < 0.9
  groups = rng.integers(0, 3, (2, 300))
  for presorted in (False, True):
    args = (jnp.asarray(boxes), jnp.asarray(-np.sort(-scores) if presorted else scores), jnp.asarray(valid), 0.3)
    whole = B.nms(*args, presorted=presorted, groups=jnp.asarray(groups))
    monkeypatch.setattr(B, "_FAST_NMS_BLOCK", 128)   # 300 boxes: 3 blocks, the last one padded
    blocked = B.nms(*args, presorted=presorted, groups=jnp.asarray(groups))
    monkeypatch.setattr(B, "_FAST_NMS_BLOCK", 1024)
    np.testing.assert_array_equal(np.asarray(blocked), np.asarray(whole))
    assert 20 < int(np.asarray(whole).sum()) < 500
