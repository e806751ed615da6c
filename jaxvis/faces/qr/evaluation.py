"""Scoring the QR pipeline and OpenCV on held-out scenes: AP, corner error, decode rate.

- AP: VOC all-point AP at IoU 0.5 (`jaxvis.faces.evaluate.average_precision`).
- corner error: for every true code matched by a detection (IoU >= 0.5, the
  best one), the mean distance in pixels between its 4 output corners (in the
  code's own order) and the true ones; `corner_error_net_px` measures the O-Net's
  corners (oriented by the finder patterns) before the decoder's refinement.
- decode rate: share of true codes whose payload was read exactly, by any
  detection of the image (payloads are random, so a match is never by chance).
- OpenCV: `cv2.QRCodeDetector().detectAndDecode` and `detectAndDecodeMulti` on
  the same full images (grayscale); its decode rate counts a code read by
  either (`decode_rate`), and each alone.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from jaxvis.faces import evaluate, mining


def score_jaxvis(results: Sequence[list], scene_list: Sequence) -> dict:
  """Metrics of `pipeline.read_codes` results against the scenes' truth."""
  dets = [(np.asarray([c["box"] for c in r], np.float32).reshape(-1, 4),
           np.asarray([c["score"] for c in r], np.float32)) for r in results]
  ap = evaluate.average_precision(dets, [s.boxes for s in scene_list])
  errors, net_errors, read, total = [], [], 0, 0
  for r, s in zip(results, scene_list):
    payloads = {c["payload"] for c in r if c["payload"]}
    total += len(s.payloads)
    read += sum(p in payloads for p in s.payloads)
    if not r or not len(s.boxes):
      continue
    iou = mining.iou_matrix(s.boxes, np.asarray([c["box"] for c in r], np.float32))
    for k in range(len(s.boxes)):
      j = int(np.argmax(iou[k]))
      if iou[k, j] >= 0.5:
        pred = np.asarray(r[j]["corners"], np.float32)
        errors.append(float(np.linalg.norm(pred - s.corners[k], axis=-1).mean()))
        net = np.asarray(r[j].get("corners_net", r[j]["corners"]), np.float32)
        net_errors.append(float(np.linalg.norm(net - s.corners[k], axis=-1).mean()))
  return {"ap": ap["ap"], "corner_error_px": float(np.mean(errors)) if errors else None,
          "decode_rate": read / max(total, 1), "codes": total, "codes_matched": len(errors),
          "corner_error_net_px": float(np.mean(net_errors)) if net_errors else None,
          "corner_error_median_px": float(np.median(errors)) if errors else None,
          "codes_decoded": read, "recall": ap["recall"], "precision": ap["precision"]}


def opencv_payloads(image: np.ndarray) -> tuple[set, set]:
  """Payloads OpenCV's QRCodeDetector reads from a full RGB image: (detectAndDecode, detectAndDecodeMulti)."""
  import cv2
  gray = cv2.cvtColor(np.asarray(image, np.uint8), cv2.COLOR_RGB2GRAY)
  det = cv2.QRCodeDetector()
  single = set()
  try:
    text, _, _ = det.detectAndDecode(gray)
    if text:
      single.add(text)
  except cv2.error:
    pass
  multi = set()
  try:
    ok, texts, _, _ = det.detectAndDecodeMulti(gray)
    if ok:
      multi = {t for t in texts if t}
  except cv2.error:
    pass
  return single, multi


def score_opencv(scene_list: Sequence) -> dict:
  single = multi = either = total = 0
  for s in scene_list:
    a, b = opencv_payloads(s.image)
    total += len(s.payloads)
    single += sum(p in a for p in s.payloads)
    multi += sum(p in b for p in s.payloads)
    either += sum(p in a | b for p in s.payloads)
  n = max(total, 1)
  return {"decode_rate": either / n, "decode_rate_single": single / n, "decode_rate_multi": multi / n,
          "codes": total}
