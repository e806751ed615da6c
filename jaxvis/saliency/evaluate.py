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

from jaxvis.saliency import attribution as attr_lib
from jaxvis.saliency import metrics as metrics_lib

MapFn = Callable[[jax.Array, jax.Array], jax.Array]  # (images, class_ids) -> (N, H, W) maps


def run_batched(fn: MapFn, images: np.ndarray, class_ids: np.ndarray, batch_size: int,
                jit: bool = True) -> tuple[np.ndarray, float]:
  """Applies `fn` batch by batch (the last batch padded); returns (maps, masks_per_s).

  With `jit`, the program is compiled ahead of time (with `attribution.compiler_options()`: on
  the CPU the sample loops reuse their buffers) and not warmed up (the iterative-mask baseline
  takes minutes per batch on a CPU), so masks/s excludes compilation. Without it (XRAI, whose
  segmentation runs on the host), the first batch runs once untimed to compile its parts.
  """
  n = len(images)
  batches = list(_padded_batches(n, batch_size, images, class_ids))
  if jit:
    run = jax.jit(fn).lower(*(jnp.asarray(a) for a in batches[0])).compile(attr_lib.compiler_options() or None)
  else:
    run = fn
    jax.block_until_ready(run(*(jnp.asarray(a) for a in batches[0])))
  out = []
  start = time.perf_counter()
  for x, c in batches:
    out.append(run(jnp.asarray(x), jnp.asarray(c)))
  out = jax.block_until_ready(out)
  seconds = time.perf_counter() - start
  return np.concatenate([np.asarray(o) for o in out])[:n], len(batches) * batch_size / max(seconds, 1e-9)


def _padded_batches(n: int, batch_size: int, *arrays):
  """Yields fixed-size slices (the last one padded by repeating the final row): one compile per shape."""
  for i in range(0, n, batch_size):
    chunk = [np.asarray(a[i:i + batch_size]) for a in arrays]
    pad = batch_size - len(chunk[0])
    if pad:
      chunk = [np.concatenate([c, np.repeat(c[-1:], pad, 0)]) for c in chunk]
    yield chunk


class BoxScorer:
  """Scores predicted boxes (localisation + saliency metric) with one compiled program per shape.

  Build one per evaluation set and reuse it for every method, so each method does not recompile
  the classifier's crop-and-classify pass.
  """

  def __init__(self, classifier, input_size=None, batch_size: int = 128):
    self.batch_size = batch_size
    self._saliency = jax.jit(lambda x, b, c: metrics_lib.saliency_metric(classifier, x, b, c, input_size))
    self._boxes = jax.jit(metrics_lib.mask_to_box)

  def boxes(self, maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = len(maps)
    out = [self._boxes(jnp.asarray(m)) for (m,) in _padded_batches(n, self.batch_size, maps)]
    return (np.concatenate([np.asarray(b) for b, _ in out])[:n],
            np.concatenate([np.asarray(f) for _, f in out])[:n])

  def saliency(self, images, class_ids, boxes) -> np.ndarray:
    """Per-image saliency metric of (N, 4) boxes."""
    n = len(images)
    return np.concatenate([np.asarray(self._saliency(jnp.asarray(x), jnp.asarray(b, jnp.float32), jnp.asarray(c)))
                           for x, b, c in _padded_batches(n, self.batch_size, images, boxes, class_ids)])[:n]

  def score_boxes(self, images, class_ids, boxes, found, gt_boxes, gt_valid) -> dict:
    """Localisation error (%) and mean saliency metric of predicted boxes."""
    success = metrics_lib.localisation_success(jnp.asarray(boxes), jnp.asarray(gt_boxes),
                                               jnp.asarray(gt_valid), jnp.asarray(found))
    return {"localisation_error": float(metrics_lib.localisation_error(success)),
            "saliency_metric": float(np.mean(self.saliency(images, class_ids, boxes)))}

  def score_maps(self, images, class_ids, maps, gt_boxes, gt_valid) -> dict:
    boxes, found = self.boxes(maps)
    return self.score_boxes(images, class_ids, boxes, found, gt_boxes, gt_valid)


def evaluate_methods(classifier, methods: dict[str, tuple[MapFn, int]], images: np.ndarray,
                     class_ids: np.ndarray, gt_boxes: np.ndarray, gt_valid: np.ndarray | None = None,
                     input_size=None, keep_maps: int = 0) -> tuple[dict, dict]:
  """Scores each method and the box baselines.

  Args:
    classifier: images -> logits (the black box being explained).
    methods: name -> (map_fn, batch_size) or (map_fn, batch_size, jit): jit False for a map_fn
      that cannot be traced (XRAI's host-side segmentation).
    images, class_ids, gt_boxes (N, K, 4), gt_valid (N, K): the evaluation set.
    keep_maps: return the first `keep_maps` maps of every method (for figures).

  Returns:
    (results, maps): results[name] = {"localisation_error", "saliency_metric", "masks_per_s"}.
  """
  images = np.asarray(images, np.float32)
  class_ids = np.asarray(class_ids, np.int32)
  gt_valid = np.ones(gt_boxes.shape[:2], bool) if gt_valid is None else np.asarray(gt_valid, bool)
  n, h, w = images.shape[:3]
  scorer = BoxScorer(classifier, input_size, batch_size=min(n, 128))
  results, kept = {}, {}
  for name, (fn, batch_size, *jit) in methods.items():
    maps, rate = run_batched(fn, images, class_ids, batch_size, *jit)
    results[name] = {**scorer.score_maps(images, class_ids, maps, gt_boxes, gt_valid), "masks_per_s": rate}
    if keep_maps:
      kept[name] = maps[:keep_maps]
  everything = np.ones((n,), bool)
  for name, boxes in (("center_box", metrics_lib.center_box(n, h, w)), ("max_box", metrics_lib.max_box(n, h, w))):
    results[name] = {**scorer.score_boxes(images, class_ids, np.asarray(boxes), everything, gt_boxes, gt_valid),
                     "masks_per_s": None}
  # Paper 5.2: each image's saliency metric averaged over its valid ground-truth boxes.
  per_box = np.stack([scorer.saliency(images, class_ids, gt_boxes[:, k]) for k in range(gt_boxes.shape[1])], 1)
  gt_sal = np.sum(per_box * gt_valid, axis=1) / np.maximum(np.sum(gt_valid, axis=1), 1)
  results["ground_truth_boxes"] = {"localisation_error": 0.0, "saliency_metric": float(np.mean(gt_sal)),
                                   "masks_per_s": None}
  return results, kept
