"""MTCNN multi-task losses (pure, jittable) with online hard example mining.

Sample labels as `mining.py`: 1 positive, 0 negative, -1 part face, -2 landmark.
- face/non-face: softmax cross-entropy on positives and negatives only; OHEM
  keeps the top `ohem_ratio` (paper: 70%) of those losses in the batch;
- box: squared L2 of the 4 regression targets on positives and part faces;
- landmarks: squared L2 of the 10 targets on landmark samples.
Task weights: P-Net and R-Net 1 : 0.5 : 0.5, O-Net 1 : 0.5 : 1 (paper). The
released P-/R-Net (and so `nets.PNet`/`RNet`) have no landmark head, so their
landmark term is absent.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from jaxvis.errors import InputError

TASK_WEIGHTS = {"pnet": (1.0, 0.5, 0.5), "rnet": (1.0, 0.5, 0.5), "onet": (1.0, 0.5, 1.0)}


def _masked_mean(x, mask):
  mask = mask.astype(x.dtype)
  return jnp.sum(x * mask) / jnp.maximum(jnp.sum(mask), 1.0)


def ohem_classification_loss(logits: jax.Array, labels: jax.Array, ratio: float = 0.7) -> jax.Array:
  """Mean cross-entropy of the hardest `ratio` of the face/non-face samples.

  Args:
    logits: (N, 2) non-face / face logits.
    labels: (N,) int; only 0 and 1 take part.
    ratio: kept fraction (rounded up; at least one sample when any is valid).
  """
  if logits.ndim != 2 or logits.shape[-1] != 2:
    raise InputError("logits", f"expected (N, 2), got shape {logits.shape}")
  if not 0 < ratio <= 1:
    raise InputError("ratio", f"expected in (0, 1], got {ratio}")
  valid = (labels == 0) | (labels == 1)
  ce = optax.softmax_cross_entropy_with_integer_labels(logits, jnp.where(valid, labels, 0).astype(jnp.int32))
  ce = jnp.where(valid, ce, -1.0)                # invalid entries sort last
  k = jnp.ceil(ratio * jnp.sum(valid)).astype(jnp.int32)
  sorted_ce = -jnp.sort(-ce)
  keep = jnp.arange(ce.shape[0]) < k
  return jnp.sum(jnp.where(keep, sorted_ce, 0.0)) / jnp.maximum(k, 1).astype(ce.dtype)


def box_loss(deltas: jax.Array, targets: jax.Array, labels: jax.Array) -> jax.Array:
  """Mean squared L2 of the box targets over positives and part faces."""
  return _masked_mean(jnp.sum(jnp.square(deltas - targets), -1), (labels == 1) | (labels == -1))


def landmark_loss(pred: jax.Array, targets: jax.Array, labels: jax.Array, cyclic: bool = False) -> jax.Array:
  """Mean squared L2 of the `(x1..xL, y1..yL)` landmark targets over landmark samples.

  With `cyclic=True` each sample's error is the smallest over the L cyclic
  shifts of the point order: a QR code's outline looks the same turned by 90
  degrees, so the net regresses the 4 corners clockwise from any of them (the
  code's own top-left is found later from its finder patterns), and targets
  never jump between orders when a code turns past 45 degrees.
  """
  if not cyclic:
    return _masked_mean(jnp.sum(jnp.square(pred - targets), -1), labels == -2)
  n = pred.shape[-1] // 2
  p = pred.reshape(-1, 2, n)
  t = targets.reshape(-1, 2, n)
  errs = jnp.stack([jnp.sum(jnp.square(p - jnp.roll(t, k, axis=-1)), axis=(1, 2)) for k in range(n)], -1)
  return _masked_mean(jnp.min(errs, -1), labels == -2)


def accuracy(logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Face / non-face accuracy over positives and negatives."""
  valid = (labels == 0) | (labels == 1)
  return _masked_mean((jnp.argmax(logits, -1) == labels).astype(jnp.float32), valid)


def multitask_loss(stage: str, outputs, batch, ohem_ratio: float = 0.7, weights=None,
                   cyclic_landmarks: bool = False):
  """The stage's weighted sum and its parts.

  Args:
    stage: "pnet", "rnet" or "onet".
    outputs: the network's (deltas, logits) or, for O-Net, (deltas, landmarks, logits),
      flattened to (N, ...).
    batch: {"label" (N,), "box" (N, 4), "landmark" (N, 10)}.
    weights: (face, box, landmark) weights; default `TASK_WEIGHTS[stage]`.
    cyclic_landmarks: landmark error up to a cyclic shift of the points (QR corners).

  Returns:
    (loss, {"cls_loss", "box_loss", "landmark_loss", "acc"}).
  """
  if stage not in TASK_WEIGHTS:
    raise InputError("stage", f"expected one of {sorted(TASK_WEIGHTS)}, got {stage!r}")
  wc, wb, wl = weights or TASK_WEIGHTS[stage]
  labels = batch["label"]
  if stage == "onet":
    deltas, marks, logits = outputs
  else:
    (deltas, logits), marks = outputs, None
  cls = ohem_classification_loss(logits, labels, ohem_ratio)
  bl = box_loss(deltas, batch["box"], labels)
  ll = landmark_loss(marks, batch["landmark"], labels, cyclic_landmarks) if marks is not None else jnp.zeros(())
  loss = wc * cls + wb * bl + wl * ll
  return loss, {"cls_loss": cls, "box_loss": bl, "landmark_loss": ll, "acc": accuracy(logits, labels)}


def lnet_loss(pred: jax.Array, targets: jax.Array) -> jax.Array:
  """L-Net: mean over samples of the squared L2 over the 5 landmarks' (x, y) (15-channel patches in)."""
  if pred.shape != targets.shape or pred.shape[1:] != (5, 2):
    raise InputError("targets", f"expected shape {pred.shape} (N, 5, 2), got {targets.shape}")
  return jnp.mean(jnp.sum(jnp.square(pred - targets), axis=(1, 2)))
