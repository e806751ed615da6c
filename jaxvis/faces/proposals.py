"""The cascade's own stages as proposal generators for hard-example mining.

The paper mines R-Net samples from P-Net's detections and O-Net samples from
P-Net + R-Net's; `propose` runs exactly those stages of `cascade.py` (jitted,
one padded canvas per bucket of 64 px) and returns each image's boxes as the
next stage would receive them (regressed, squared).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxvis.faces import cascade, pyramid
from jaxvis.errors import InputError


@functools.partial(jax.jit, static_argnames=("stage", "cfg"))
def _propose(params, images, sizes, thresholds, stage: str, cfg: cascade.CascadeConfig):
  norm = cascade.normalize(images)
  boxes, score, valid, _ = cascade.pnet_stage(params["pnet"], norm, sizes, cfg, thresholds[0])
  if stage == "onet":  # every R-Net survivor is a sample: no O-Net cap below the R-Net input
    cfg = cfg.resolved(*norm.shape[1:3])
    cfg = dataclasses.replace(cfg, max_onet=cfg.max_rnet)
    boxes, score, valid, _ = cascade.rnet_stage(params["rnet"], norm, sizes, boxes, valid, cfg, thresholds[1])
  return boxes.reshape(-1, 4), valid.reshape(-1)


def propose(params, images, stage: str, min_face_size: float = 20.0,
            thresholds=(0.6, 0.7), bucket: int = 64, **options) -> list[np.ndarray]:
  """Boxes the stages before `stage` pass on, per image.

  Args:
    params: {"pnet"[, "rnet"]} parameters of the earlier stages.
    images: list of (H, W, 3) uint8 RGB images.
    stage: "rnet" (P-Net proposals) or "onet" (P-Net then R-Net).
    min_face_size, thresholds: as `cascade.detect` (P and R thresholds).
    **options: other `CascadeConfig` fields (caps).

  Returns:
    list of (K_i, 4) float32 xyxy square boxes.
  """
  if stage not in ("rnet", "onet"):
    raise InputError("stage", f"expected 'rnet' or 'onet' (the stages mined with earlier ones), got {stage!r}")
  need = ("pnet",) if stage == "rnet" else ("pnet", "rnet")
  missing = [n for n in need if n not in params]
  if missing:
    raise InputError("params", f"mining {stage} samples needs the trained {', '.join(missing)} parameters")
  cfg = cascade.CascadeConfig(min_face_size=float(min_face_size), **options)
  thr = jnp.asarray(list(thresholds) + [0.0], jnp.float32)
  out = []
  for image in images:
    image = np.asarray(image)
    h, w = image.shape[:2]
    if not pyramid.pyramid_scales(h, w, cfg.min_face_size, cfg.scale_factor):
      out.append(np.zeros((0, 4), np.float32))
      continue
    ch, cw = math.ceil(h / bucket) * bucket, math.ceil(w / bucket) * bucket
    canvas = np.zeros((1, ch, cw, 3), np.float32)
    canvas[0, :h, :w] = image
    boxes, valid = jax.device_get(_propose(params, canvas, np.array([[h, w]], np.int32), thr, stage, cfg))
    out.append(np.asarray(boxes)[np.asarray(valid)].astype(np.float32))
  return out
