"""The cascade's own stages as proposal generators for hard-example mining.

The paper mines R-Net samples from P-Net's detections and O-Net samples from
P-Net + R-Net's; `propose` runs exactly those stages of `cascade.py` (jitted,
one padded canvas per bucket of 64 px) and returns each image's boxes as the
next stage would receive them (regressed, squared).

No cap changes the sample distribution: an image whose P-Net or R-Net pool
overflows is run again with those caps x4 (as `cascade.detect` does) until
nothing is cut; past `max_pnet_limit` cells it is flagged in `proposals_overflowed`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from jaxvis import compiled_programs
from jaxvis.errors import InputError
from jaxvis.faces import cascade, pyramid


@functools.partial(jax.jit, static_argnames=("stage", "cfg"))
def _propose(params, images, sizes, thresholds, stage: str, cfg: cascade.CascadeConfig):
  norm = cascade.normalize(images)
  cfg = cfg.resolved(*norm.shape[1:3])
  boxes, score, valid, over_p = cascade.pnet_stage(params["pnet"], norm, sizes, cfg, thresholds[0])
  over_r = jnp.zeros_like(over_p)
  if stage == "onet":  # every R-Net survivor is a sample: no O-Net cap below the R-Net input
    cfg = dataclasses.replace(cfg, max_onet=cfg.max_rnet)
    boxes, score, valid, over_r = cascade.rnet_stage(params["rnet"], norm, sizes, boxes, valid, cfg,
                                                     thresholds[1])
  return boxes.reshape(-1, 4), valid.reshape(-1), over_p[0], over_r[0]


def propose(params, images, stage: str, min_face_size: float = 20.0,
            thresholds=(0.6, 0.7), bucket: int = 64, max_pnet_limit: int = 1 << 17,
            **options) -> list[np.ndarray]:
  """`propose_with_overflow`'s boxes (a warning names any image still cut)."""
  return propose_with_overflow(params, images, stage, min_face_size, thresholds, bucket,
                               max_pnet_limit, **options)[0]


def propose_with_overflow(params, images, stage: str, min_face_size: float = 20.0,
                          thresholds=(0.6, 0.7), bucket: int = 64, max_pnet_limit: int = 1 << 17,
                          **options) -> tuple[list[np.ndarray], list[bool]]:
  """Boxes the stages before `stage` pass on, per image.

  Args:
    params: {"pnet"[, "rnet"]} parameters of the earlier stages.
    images: list of (H, W, 3) uint8 RGB images.
    stage: "rnet" (P-Net proposals) or "onet" (P-Net then R-Net).
    min_face_size, thresholds: as `cascade.detect` (P and R thresholds).
    max_pnet_limit: P-Net cells per image the caps may grow to (overflow re-runs).
    **options: other `CascadeConfig` fields (caps; 0 = sized from the canvas).

  Returns:
    (list of (K_i, 4) float32 xyxy square boxes, list of per-image flags: True
    where P-Net's cells were still cut at `max_pnet_limit`; a warning names them).
  """
  if stage not in ("rnet", "onet"):
    raise InputError("stage", f"expected 'rnet' or 'onet' (the stages mined with earlier ones), got {stage!r}")
  need = ("pnet",) if stage == "rnet" else ("pnet", "rnet")
  missing = [n for n in need if n not in params]
  if missing:
    raise InputError("params", f"mining {stage} samples needs the trained {', '.join(missing)} parameters")
  cfg = cascade.CascadeConfig(min_face_size=float(min_face_size), **options)
  thr = jnp.asarray(list(thresholds) + [0.0], jnp.float32)
  out, overflowed = [], []
  for i, image in enumerate(images):
    image = np.asarray(image)
    h, w = image.shape[:2]
    if not pyramid.pyramid_scales(h, w, cfg.min_face_size, cfg.scale_factor):
      out.append(np.zeros((0, 4), np.float32))
      overflowed.append(False)
      continue
    ch, cw = math.ceil(h / bucket) * bucket, math.ceil(w / bucket) * bucket
    canvas = np.zeros((1, ch, cw, 3), np.float32)
    canvas[0, :h, :w] = image
    sizes = np.array([[h, w]], np.int32)
    run, cut = cfg.resolved(ch, cw), False
    while True:
      compiled_programs.release_if_crowded()  # a program per canvas size: stay under the mapping limit
      boxes, valid, over_p, over_r = jax.device_get(_propose(params, canvas, sizes, thr, stage, run))
      if over_p and run.max_pnet * 4 > max_pnet_limit:
        cut = True
        warnings.warn(f"image {i}: more than {run.max_pnet} P-Net cells pass the threshold; "
                      f"its proposals are the best {run.max_rnet} (raise max_pnet_limit)", stacklevel=3)
        break
      if not (over_p or over_r):
        break
      run = run.grown((bool(over_p), bool(over_r), False))
    out.append(np.asarray(boxes)[np.asarray(valid)].astype(np.float32))
    overflowed.append(cut)
  return out, overflowed
