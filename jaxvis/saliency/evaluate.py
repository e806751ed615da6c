"""Scores saliency methods with the paper's protocol: localisation error, saliency metric, masks/s.

`evaluate_methods` runs each method over an evaluation set in fixed-size jitted batches, then
thresholds every map at 0.5, takes the tightest box, and scores it; the box baselines (center,
max, ground truth) go through the same scoring.
"""

from __future__ import annotations

import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxvis.saliency import metrics as metrics_lib

MapFn = Callable[[jax.Array, jax.Array], jax.Array]  # (images, class_ids) -> (N, H, W) maps


def run_batched(fn: MapFn, images: np.ndarray, class_ids: np.ndarray, batch_size: int
                ) -> tuple[np.ndarray, float]:
  """Applies a jitted `fn` batch by batch (the last batch padded); returns (maps, masks_per_s).

  masks/s is measured after a warm-up call, so it excludes compilation.
  """
  n = len(images)
  jfn = jax.jit(fn)
  pad = (-n) % batch_size
  imgs = np.concatenate([images, np.repeat(images[-1:], pad, 0)]) if pad else images
  ids = np.concatenate([class_ids, np.repeat(class_ids[-1:], pad, 0)]) if pad else class_ids
  jax.block_until_ready(jfn(jnp.asarray(imgs[:batch_size]), jnp.asarray(ids[:batch_size])))
  out = []
  start = time.perf_counter()
  for i in range(0, len(imgs), batch_size):
    out.append(jfn(jnp.asarray(imgs[i:i + batch_size]), jnp.asarray(ids[i:i + batch_size])))
  out = jax.block_until_ready(out)
  seconds = time.perf_counter() - start
  return np.concatenate([np.asarray(o) for o in out])[:n], len(imgs) / max(seconds, 1e-9)


def score_boxes(classifier, images, class_ids, boxes, found, gt_boxes, gt_valid, input_size=None,
                batch_size: int = 256) -> dict:
  """Localisation error (%) and mean saliency metric of predicted boxes."""
  success = metrics_lib.localisation_success(jnp.asarray(boxes), jnp.asarray(gt_boxes),
                                             jnp.asarray(gt_valid), jnp.asarray(found))
  sal_fn = jax.jit(lambda x, b, c: metrics_lib.saliency_metric(classifier, x, b, c, input_size))
  sal = np.concatenate([np.asarray(sal_fn(jnp.asarray(images[i:i + batch_size]), jnp.asarray(boxes[i:i + batch_size]),
                                          jnp.asarray(class_ids[i:i + batch_size])))
                        for i in range(0, len(images), batch_size)])
  return {"localisation_error": float(metrics_lib.localisation_error(success)),
          "saliency_metric": float(np.mean(sal))}


def score_maps(classifier, images, class_ids, maps, gt_boxes, gt_valid, input_size=None) -> dict:
  boxes, found = jax.jit(metrics_lib.mask_to_box)(jnp.asarray(maps))
  return score_boxes(classifier, images, class_ids, np.asarray(boxes), np.asarray(found), gt_boxes,
                     gt_valid, input_size)


def evaluate_methods(classifier, methods: dict[str, tuple[MapFn, int]], images: np.ndarray,
                     class_ids: np.ndarray, gt_boxes: np.ndarray, gt_valid: np.ndarray | None = None,
                     input_size=None, keep_maps: int = 0) -> tuple[dict, dict]:
  """Scores each method and the box baselines.

  Args:
    classifier: images -> logits (the black box being explained).
    methods: name -> (map_fn, batch_size).
    images, class_ids, gt_boxes (N, K, 4), gt_valid (N, K): the evaluation set.
    keep_maps: return the first `keep_maps` maps of every method (for figures).

  Returns:
    (results, maps): results[name] = {"localisation_error", "saliency_metric", "masks_per_s"}.
  """
  images = np.asarray(images, np.float32)
  class_ids = np.asarray(class_ids, np.int32)
  gt_valid = np.ones(gt_boxes.shape[:2], bool) if gt_valid is None else np.asarray(gt_valid, bool)
  n, h, w = images.shape[:3]
  results, kept = {}, {}
  for name, (fn, batch_size) in methods.items():
    maps, rate = run_batched(fn, images, class_ids, batch_size)
    results[name] = {**score_maps(classifier, images, class_ids, maps, gt_boxes, gt_valid, input_size),
                     "masks_per_s": rate}
    if keep_maps:
      kept[name] = maps[:keep_maps]
  everything = np.ones((n,), bool)
  for name, boxes in (("center_box", metrics_lib.center_box(n, h, w)), ("max_box", metrics_lib.max_box(n, h, w))):
    results[name] = {**score_boxes(classifier, images, class_ids, np.asarray(boxes), everything, gt_boxes,
                                   gt_valid, input_size), "masks_per_s": None}
  gt_sal = jax.jit(lambda x, b, v, c: metrics_lib.gt_saliency_metric(classifier, x, b, v, c, input_size))(
      jnp.asarray(images), jnp.asarray(gt_boxes, jnp.float32), jnp.asarray(gt_valid), jnp.asarray(class_ids))
  results["ground_truth_boxes"] = {"localisation_error": 0.0, "saliency_metric": float(jnp.mean(gt_sal)),
                                   "masks_per_s": None}
  return results, kept
