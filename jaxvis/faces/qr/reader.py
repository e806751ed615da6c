"""The QR reader: zxing-cpp on the whole image and on every code the cascade finds, merged.

For each image:

1. zxing-cpp reads the whole image (QR + Micro QR, rotations, downscaled and
   inverted variants): what zxing-cpp alone reads, jaxvis reads too.
2. The cascade (`pipeline.detect_codes`: P/R/O-Net, 4 corners, finder-pattern
   orientation, DenseNet verifier) proposes codes. Each candidate not already
   covered by a decoded code is read by `decode.read_region`: the rectified
   quadrilateral (up-sampled so a small or dense code gets several pixels per
   module) and the enlarged, up-sampled box crop, then binarised / sharpened
   variants. With `crop_all=True` every O-Net candidate is read so, the ones
   the verifier rejected included (zxing-cpp checks every payload itself); the
   verifier then gates only the `unreadable` reports (step 4): a rejected
   candidate adds decoded codes, never an `unreadable` one nor support for one.
3. Decoded symbols are merged by payload and position: the same bytes at
   overlapping places are one code (the whole-image reading's corners win);
   the same bytes at separate places are separate codes.
4. What is found but not decoded is reported `unreadable`, with its corners:
   - a symbol zxing-cpp located (finder patterns and BCH-protected format bits
     read) whose data failed Reed-Solomon correction ("Checksum" errors): a QR
     symbol of plausible shape (no side under 0.3 of the longest), or a Micro QR
     symbol (one finder pattern: textures can fake it) only where a cascade
     candidate overlaps it, or
   - a cascade candidate whose score (O-Net x verifier probability) reaches
     `unreadable_score`,
   in both cases only where no decoded code lies. Overlapping ones are merged
   (zxing-cpp's corners preferred).

Each code is a dict:
  status: "decoded" | "unreadable"
  payload: text (zxing-cpp's transcoding) or None;  bytes: raw payload bytes or None
  format: "QR" | "Micro QR" | None (unknown for detector-only codes)
  version: 1-40 (QR), 1-4 (Micro QR M1-M4) or None;  ec_level: "L" | "M" | "Q" | "H" | None
  corners: [[x, y] x 4] clockwise from the code's own top-left (decoder's when located by it)
  box: [x1, y1, x2, y2] inclusive pixels;  score: 1.0 for decoded codes, else the evidence
  source: "image" | "crop" (zxing-cpp located it) | "detector" (the cascade alone)
  detector_score: the best overlapping cascade candidate's score, or None
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Sequence

import numpy as np

from jaxvis.data.images import as_rgb_array
from jaxvis.errors import InputError
from jaxvis.faces import pyramid
from jaxvis.faces.qr import decode, pipeline

# Crop-read every O-Net candidate, the verifier gating only `unreadable` reports (see the module doc).
CROP_ALL = True

# A located symbol whose data failed: its finder patterns and BCH-checked format bits were read.
LOCATED_ERRORS = ("Checksum",)


def _box_of(corners: np.ndarray) -> np.ndarray:
  c = np.asarray(corners, np.float32)
  return np.concatenate([c.min(0) + 0.5, c.max(0) - 0.5])


def _overlap(a, b) -> float:
  """Intersection over the smaller box (a code inside a larger candidate counts as overlapping)."""
  ix = min(a[2], b[2]) - max(a[0], b[0])
  iy = min(a[3], b[3]) - max(a[1], b[1])
  if ix <= 0 or iy <= 0:
    return 0.0
  area = lambda r: max(r[2] - r[0], 1e-3) * max(r[3] - r[1], 1e-3)  # noqa: E731
  return float(ix * iy / min(area(a), area(b)))


def _same_place(a, b, ratio: float = 0.5) -> bool:
  """Two boxes of one symbol: centres closer than `ratio` of the larger side."""
  ca = ((a[0] + a[2]) / 2, (a[1] + a[3]) / 2)
  cb = ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
  side = max(a[2] - a[0], a[3] - a[1], b[2] - b[0], b[3] - b[1], 1.0)
  return math.hypot(ca[0] - cb[0], ca[1] - cb[1]) < ratio * side


def _record(found: decode.Found | None, source: str, corners=None, box=None, score: float = 1.0,
            detector_score: float | None = None) -> dict:
  corners = np.asarray(found.corners if found is not None else corners, np.float32)
  box = _box_of(corners) if box is None else np.asarray(box, np.float32)
  decoded = found is not None and found.decoded
  return {"status": "decoded" if decoded else "unreadable",
          "payload": found.text if decoded else None,
          "bytes": found.raw if decoded else None,
          "format": found.format if found is not None else None,
          "version": found.version if found is not None else None,
          "ec_level": found.ec_level if found is not None else None,
          "corners": [[round(float(x), 2), round(float(y), 2)] for x, y in corners],
          "box": [round(float(v), 2) for v in box],
          "score": round(float(score), 4), "source": source,
          "detector_score": None if detector_score is None else round(float(detector_score), 4)}


def _merge_decoded(codes: list[dict], found: decode.Found, source: str) -> bool:
  """Adds a decoded symbol unless the same bytes are already read at that place; True if added."""
  box = _box_of(found.corners)
  for c in codes:
    if c["bytes"] == found.raw and c["format"] == found.format and _same_place(c["box"], box):
      return False
  codes.append(_record(found, source))
  return True


def _plausible(corners, min_ratio: float = 0.3) -> bool:
  """A quadrilateral a code seen at up to ~70 degrees can make: no side under `min_ratio` of the longest."""
  c = np.asarray(corners, np.float32)
  sides = np.linalg.norm(c - np.roll(c, -1, 0), axis=1)
  return bool(sides.min() >= min_ratio * max(sides.max(), 1e-6))


def _covered(box, codes: list[dict], thr: float = 0.3) -> bool:
  return any(_overlap(box, c["box"]) >= thr or _same_place(box, c["box"]) for c in codes)


def read_image(gray: np.ndarray, candidates: Sequence[tuple] = (), unreadable_score: float = 0.9,
               crop_variants: bool = True, rejected: Sequence[tuple] = ()) -> list[dict]:
  """Reads the codes of one image from its luma and the cascade's candidates.

  Args:
    gray: (H, W) uint8.
    candidates: (box (4,), corners (4, 2), score) per cascade detection the verifier kept,
      best first: crop-read, and evidence for `unreadable` reports.
    unreadable_score: the candidate score from which an undecoded candidate is a code.
    crop_variants: try binarised / sharpened crops when the plain ones fail.
    rejected: the same for O-Net candidates the verifier rejected (`crop_all`): crop-read
      after `candidates`, but only their decoded symbols count (no `unreadable` report,
      no support for one).

  Returns:
    the codes (see the module doc), decoded ones first.
  """
  decoded: list[dict] = []
  located: list[tuple[decode.Found, str]] = []
  for f in decode.zxing_find(gray, errors=True):
    if f.decoded:
      _merge_decoded(decoded, f, "image")
    else:
      located.append((f, "image"))
  for kept, group in ((True, candidates), (False, rejected)):
    for box, corners, _ in group:
      if _covered(box, decoded):
        continue
      got = decode.read_region(gray, corners, box, variants=crop_variants)
      for f in got.decoded:
        _merge_decoded(decoded, f, "crop")
      if kept:
        located += [(f, "crop") for f in got.located]
  for c in decoded:   # the cascade's support of each decoded code (for evaluation and tuning)
    support = [float(s) for b, _, s in candidates if _overlap(b, c["box"]) >= 0.5]
    c["detector_score"] = round(max(support), 4) if support else None
  unreadable: list[dict] = []
  # zxing-cpp located a symbol but could not correct its data: the strongest evidence of a code.
  # QR symbols first, larger first: a QR's finder pattern can also pass for a Micro QR's.
  located = [(f, s) for f, s in located if f.error in LOCATED_ERRORS]
  located.sort(key=lambda fs: (fs[0].format != "QR", -float(np.ptp(fs[0].corners[:, 0]))))
  for f, source in located:
    box = _box_of(f.corners)
    if _covered(box, decoded) or _covered(box, unreadable):
      continue
    support = [float(s) for b, _, s in candidates if _overlap(b, box) >= 0.5]
    if not support and not (f.format == "QR" and _plausible(f.corners)):
      continue   # a Micro QR has one finder pattern: textures fake it; the cascade must agree
    unreadable.append(_record(f, source, score=max([0.5] + support),
                              detector_score=max(support) if support else None))
  for box, corners, score in candidates:
    if score < unreadable_score or _covered(box, decoded) or _covered(box, unreadable):
      continue
    unreadable.append(_record(None, "detector", corners=corners, box=box, score=score,
                              detector_score=score))
  return decoded + unreadable


def read_codes_with_overflow(weights, images: Any, *, batch_size: int = 4, bucket: int = 64,
                             use_detector: bool = True, unreadable_score: float = 0.9,
                             crop_variants: bool = True, crop_all: bool = CROP_ALL,
                             max_codes_limit: int = 4096,
                             **options) -> tuple[list[list[dict]], list[bool]]:
  """`read_codes`, plus whether each image's detector still hit a cap at `max_codes_limit`."""
  if isinstance(images, np.ndarray) and images.ndim == 4:
    images = list(images)
  if not isinstance(images, (list, tuple)):
    raise InputError("images", f"expected a list of images, got {type(images).__name__} "
                               f"(wrap one image in a list)")
  arrays = [as_rgb_array(im, f"images[{i}]", dtype=np.uint8) for i, im in enumerate(images)]
  grays = [decode.as_gray(a) for a in arrays]
  cfg = pipeline.QrConfig(**options)
  candidates: list[list[tuple]] = [[] for _ in arrays]
  rejected: list[list[tuple]] = [[] for _ in arrays]
  overflow = [False] * len(arrays)
  if use_detector:
    todo = [i for i, a in enumerate(arrays) if pyramid.pyramid_scales(a.shape[0], a.shape[1], cfg.min_code_size, 0.709)]
    for start in range(0, len(todo), batch_size):
      chunk = todo[start:start + batch_size]
      n = min(batch_size, 1 << max(0, math.ceil(math.log2(len(chunk)))))   # few batch shapes to compile
      ch = max(math.ceil(arrays[i].shape[0] / bucket) * bucket for i in chunk)
      cw = max(math.ceil(arrays[i].shape[1] / bucket) * bucket for i in chunk)
      canvas = np.zeros((n, ch, cw, 3), np.uint8)
      sizes = np.tile([[ch, cw]], (n, 1))
      for j, i in enumerate(chunk):
        canvas[j, :arrays[i].shape[0], :arrays[i].shape[1]] = arrays[i]
        sizes[j] = arrays[i].shape[:2]
      det = pipeline.detect_codes(weights, canvas, sizes, max_codes_limit=max_codes_limit, **options)
      boxes, scores, corners, valid, over, proposed, proposal_scores = (
          np.asarray(x) for x in (det.boxes, det.scores, det.corners, det.valid, det.overflow, det.proposed,
                                  det.proposal_scores))
      for j, i in enumerate(chunk):
        overflow[i] = bool(over[j])
        candidates[i] = [(boxes[j, f], corners[j, f], float(scores[j, f])) for f in np.flatnonzero(valid[j])]
        if crop_all:   # best first, as the kept ones
          slots = np.flatnonzero(proposed[j] & ~valid[j])
          slots = slots[np.argsort(-proposal_scores[j, slots], kind="stable")]
          rejected[i] = [(boxes[j, f], corners[j, f], float(proposal_scores[j, f])) for f in slots]
  results = [read_image(g, c, unreadable_score, crop_variants, r) for g, c, r in zip(grays, candidates, rejected)]
  return results, overflow


def read_codes(weights, images: Any, **kwargs) -> list[list[dict]]:
  """QR and Micro QR codes in each image: decoded ones with payload, and unreadable ones.

  Args:
    weights: the cascade + verifier weights (`pipeline.load_weights()`).
    images: a list of images, each (H, W) gray, (H, W, 3) RGB or (H, W, 4) RGBA (composited
      over white); uint8, uint16 or float (by range: [0, 1] or [0, 255]), or PIL images;
      any sizes (`jaxvis.data.images.as_rgb_array`'s rules and range checks).
    **kwargs: batch_size (images per detector program), bucket (canvas rounding),
      use_detector (False: zxing-cpp on the whole image only), unreadable_score,
      crop_variants, crop_all (also crop-read the O-Net candidates the verifier rejected;
      they add decoded codes only), max_codes_limit, and `pipeline.QrConfig` fields (min_code_size,
      thresholds, use_verifier, ...).

  Returns:
    per image, a list of codes (see the module doc), decoded ones first. An image whose
    detector still filled its caps at `max_codes_limit` warns (`read_codes_with_overflow`
    returns the flags).
  """
  results, overflow = read_codes_with_overflow(weights, images, **kwargs)
  flagged = [i for i, o in enumerate(overflow) if o]
  if flagged:
    warnings.warn(f"images {flagged}: more code candidates than max_codes_limit; the best ones were "
                  f"read (raise max_codes_limit)", stacklevel=2)
  return results
