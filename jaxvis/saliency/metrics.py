"""What the paper measures with: the saliency metric and weakly supervised localisation.

Boxes are `(x1, y1, x2, y2)` in inclusive pixel coordinates (the `ops.image.crop_and_resize`
convention): `[0, 0, W-1, H-1]` is the whole image. All functions are pure, jittable, batched.
"""

from __future__ import annotations

import math
from typing import Callable

import jax
import jax.numpy as jnp

from jaxvis.ops import boxes as box_ops
from jaxvis.ops import image as image_ops
from jaxvis.errors import InputError


def mask_to_box(masks: jax.Array, threshold: float = 0.5) -> tuple[jax.Array, jax.Array]:
  """Tightest box around `mask > threshold`.

  Args:
    masks: (N, H, W).

  Returns:
    boxes (N, 4) float32 and `found` (N,) bool; where nothing exceeds the threshold the box is
    the whole image and `found` is False.
  """
  if masks.ndim != 3:
    raise InputError("masks", f"expected (N, H, W), got shape {masks.shape}")
  n, h, w = masks.shape
  on = masks > threshold
  rows = jnp.any(on, axis=2)
  cols = jnp.any(on, axis=1)
  found = jnp.any(rows, axis=1)
  iy = jnp.arange(h)
  ix = jnp.arange(w)
  y1 = jnp.min(jnp.where(rows, iy, h), axis=1)
  y2 = jnp.max(jnp.where(rows, iy, -1), axis=1)
  x1 = jnp.min(jnp.where(cols, ix, w), axis=1)
  x2 = jnp.max(jnp.where(cols, ix, -1), axis=1)
  box = jnp.stack([x1, y1, x2, y2], axis=1).astype(jnp.float32)
  whole = jnp.array([0, 0, w - 1, h - 1], jnp.float32)
  return jnp.where(found[:, None], box, whole), found


def box_area(boxes: jax.Array) -> jax.Array:
  """Pixel count of inclusive boxes (..., 4)."""
  return box_ops.area(boxes, offset=1.0)


def localisation_success(pred_boxes: jax.Array, gt_boxes: jax.Array, gt_valid: jax.Array | None = None,
                         found: jax.Array | None = None, iou_threshold: float = 0.5) -> jax.Array:
  """Paper protocol: success if IoU > 0.5 with any ground-truth box.

  Args:
    pred_boxes: (N, 4).
    gt_boxes: (N, K, 4) (pad with anything and mark padding False in `gt_valid`).
    gt_valid: (N, K) bool; None = all valid.
    found: (N,) bool from `mask_to_box`; an empty mask counts as a failure.

  Returns:
    (N,) bool.
  """
  if gt_boxes.ndim != 3 or gt_boxes.shape[-1] != 4 or gt_boxes.shape[0] != pred_boxes.shape[0]:
    raise InputError("gt_boxes", f"expected (N, K, 4) with N={pred_boxes.shape[0]}, got {gt_boxes.shape}")
  iou = box_ops.iou(pred_boxes[:, None, :], gt_boxes, offset=1.0)[:, 0, :]
  if gt_valid is not None:
    iou = jnp.where(gt_valid, iou, 0.0)
  ok = jnp.any(iou > iou_threshold, axis=1)
  return ok if found is None else ok & found


def localisation_error(success: jax.Array) -> jax.Array:
  """Localisation error in percent."""
  return 100.0 * (1.0 - jnp.mean(success.astype(jnp.float32)))


def saliency_metric(classifier: Callable[[jax.Array], jax.Array], images: jax.Array, boxes: jax.Array,
                    class_ids: jax.Array, input_size: tuple[int, int] | None = None,
                    min_area: float = 0.05) -> jax.Array:
  """`s(a, p) = log(max(a, 0.05)) - log(p)` per image (lower is better).

  The box is cropped, resized to the classifier's input size disregarding aspect ratio, and p is
  the classifier's softmax probability of `class_ids`; a is the box area as a fraction of the image.

  Args:
    classifier: images -> logits.
    images: (N, H, W, C).
    boxes: (N, 4) inclusive pixel boxes.
    class_ids: (N,) requested classes.
    input_size: the classifier's (h, w); None = the images' size.
  """
  n, h, w, _ = images.shape
  size = input_size or (h, w)
  crops = image_ops.crop_and_resize(images, boxes, size)
  logp = jax.nn.log_softmax(classifier(crops).astype(jnp.float32), axis=-1)
  logp_c = jnp.take_along_axis(logp, class_ids[:, None], axis=1)[:, 0]
  a = box_area(boxes) / float(h * w)
  return jnp.log(jnp.maximum(a, min_area)) - logp_c


def gt_saliency_metric(classifier, images, gt_boxes, gt_valid, class_ids, input_size=None) -> jax.Array:
  """Saliency metric of the ground-truth boxes, averaged over each image's valid boxes (paper 5.2)."""
  n, k, _ = gt_boxes.shape
  flat_images = jnp.repeat(images, k, axis=0)
  flat = saliency_metric(classifier, flat_images, gt_boxes.reshape(n * k, 4), jnp.repeat(class_ids, k),
                         input_size).reshape(n, k)
  valid = gt_valid.astype(jnp.float32)
  return jnp.sum(flat * valid, axis=1) / jnp.maximum(jnp.sum(valid, axis=1), 1.0)


def center_box(n: int, height: int, width: int) -> jax.Array:
  """The centrally placed box spanning half the image area (sides scaled by 1/sqrt(2))."""
  bh, bw = height / math.sqrt(2.0), width / math.sqrt(2.0)
  y1, x1 = (height - bh) / 2.0, (width - bw) / 2.0
  box = jnp.array([x1, y1, x1 + bw - 1, y1 + bh - 1], jnp.float32)
  return jnp.broadcast_to(box, (n, 4))


def max_box(n: int, height: int, width: int) -> jax.Array:
  """The box spanning the whole image."""
  return jnp.broadcast_to(jnp.array([0, 0, width - 1, height - 1], jnp.float32), (n, 4))
