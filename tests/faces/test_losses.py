"""Multi-task losses: OHEM keeps the hardest 70% of face/non-face losses; masks per task."""

import jax.numpy as jnp
import numpy as np
import pytest

from jaxvis.faces import losses


def _ce(logits, labels):
  z = logits - logits.max(-1, keepdims=True)
  logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
  return -logp[np.arange(len(labels)), labels]


def test_ohem_keeps_top_70_percent_of_face_nonface_losses():
  rng = np.random.default_rng(0)
  logits = rng.normal(size=(12, 2)).astype(np.float32) * 3
  labels = np.array([1, 0, 1, 0, -1, -2, 1, 0, 1, 0, -1, 1])
  valid = labels >= 0
  ce = _ce(logits, np.where(valid, labels, 0))[valid]          # 9 samples -> keep ceil(6.3) = 7
  expect = np.sort(ce)[::-1][:7].mean()
  got = float(losses.ohem_classification_loss(jnp.asarray(logits), jnp.asarray(labels), 0.7))
  np.testing.assert_allclose(got, expect, rtol=1e-5)
  all_ = float(losses.ohem_classification_loss(jnp.asarray(logits), jnp.asarray(labels), 1.0))
  np.testing.assert_allclose(all_, ce.mean(), rtol=1e-5)
  assert got > all_                                            # the hard ones weigh more
  with pytest.raises(ValueError, match="ratio"):
    losses.ohem_classification_loss(jnp.asarray(logits), jnp.asarray(labels), 0.0)


def test_multitask_weights_and_masks():
  labels = jnp.array([1, 0, -1, -2])
  deltas = jnp.array([[0.1, 0, 0, 0], [5., 5, 5, 5], [0, 0.2, 0, 0], [9., 9, 9, 9]])
  box_t = jnp.zeros((4, 4))
  marks = jnp.zeros((4, 10)).at[3, 0].set(0.3).at[0, 0].set(7.0)   # only row 3 counts
  lm_t = jnp.zeros((4, 10))
  logits = jnp.array([[0., 2.], [2., 0.], [0., 0.], [0., 0.]])
  batch = {"label": labels, "box": box_t, "landmark": lm_t}
  box = (0.01 + 0.04) / 2                                      # positives and parts only
  lmk = 0.09
  _, m = losses.multitask_loss("onet", (deltas, marks, logits), batch, ohem_ratio=1.0)
  np.testing.assert_allclose(float(m["box_loss"]), box, rtol=1e-6)
  np.testing.assert_allclose(float(m["landmark_loss"]), lmk, rtol=1e-6)
  assert float(m["acc"]) == 1.0
  lo, m = losses.multitask_loss("onet", (deltas, marks, logits), batch, ohem_ratio=1.0)
  np.testing.assert_allclose(float(lo), float(m["cls_loss"]) + 0.5 * box + 1.0 * lmk, rtol=1e-6)
  lr, mr = losses.multitask_loss("rnet", (deltas, logits), batch, ohem_ratio=1.0)
  np.testing.assert_allclose(float(lr), float(mr["cls_loss"]) + 0.5 * box, rtol=1e-6)
  with pytest.raises(ValueError, match="stage"):
    losses.multitask_loss("xnet", (deltas, logits), batch)


def test_lnet_loss_value_and_shape_error():
  pred = jnp.full((2, 5, 2), 0.5)
  tgt = pred.at[1, 2, 0].set(0.8)
  np.testing.assert_allclose(float(losses.lnet_loss(pred, tgt)), 0.09 / 2, rtol=1e-5)
  with pytest.raises(ValueError, match="targets"):
    losses.lnet_loss(pred, tgt[:, :4])
