"""Scoring the QR reader, zxing-cpp and OpenCV on generated scenes.

`scenes.py` scenes (the training generator's held-out split):
- AP: VOC all-point AP at IoU 0.5 (`jaxvis.faces.evaluate.average_precision`).
- corner error: for every true code matched by a reported code (IoU >= 0.5, the
  best one), the mean distance in pixels between its 4 output corners (in the
  code's own order) and the true ones.
- decode rate: share of true codes whose payload was read exactly, by any
  detection of the image (payloads are random, so a match is never by chance).
- OpenCV: `cv2.QRCodeDetector().detectAndDecode` and `detectAndDecodeMulti` on
  the same full images (grayscale); its decode rate counts a code read by
  either (`decode_rate`), and each alone.

`heldout.py` scenes (the independent benchmark generator), per difficulty factor
(`score_heldout`): codes decoded (the true payload read in that image), wrong
payloads (decoded text that is no code of the image), and for the reader's
`unreadable` reports: how many sit on a true code that was not decoded
(`unreadable_true`) and how many on no code at all (`unreadable_false`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from jaxvis.faces import evaluate, mining


def score_jaxvis(results: Sequence[list], scene_list: Sequence) -> dict:
  """Metrics of `reader.read_codes` results against the scenes' truth."""
  dets = [(np.asarray([c["box"] for c in r], np.float32).reshape(-1, 4),
           np.asarray([c["score"] for c in r], np.float32)) for r in results]
  ap = evaluate.average_precision(dets, [s.boxes for s in scene_list])
  errors, read, total = [], 0, 0
  for r, s in zip(results, scene_list):
    payloads = {c["payload"] for c in r if c["status"] == "decoded"}
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
  return {"ap": ap["ap"], "corner_error_px": float(np.mean(errors)) if errors else None,
          "decode_rate": read / max(total, 1), "codes": total, "codes_matched": len(errors),
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


# ----------------------------------------------------------------------------- held-out generator


def _box(corners) -> np.ndarray:
  c = np.asarray(corners, np.float32)
  return np.concatenate([c.min(0), c.max(0)])


def _on(box, truth_box) -> bool:
  """A reported box lies on a true code: half of the smaller box overlaps, or the centres are close."""
  ix = min(box[2], truth_box[2]) - max(box[0], truth_box[0])
  iy = min(box[3], truth_box[3]) - max(box[1], truth_box[1])
  area = lambda r: max(r[2] - r[0], 1.0) * max(r[3] - r[1], 1.0)  # noqa: E731
  if ix > 0 and iy > 0 and ix * iy >= 0.5 * min(area(box), area(truth_box)):
    return True
  side = max(truth_box[2] - truth_box[0], truth_box[3] - truth_box[1])
  return float(np.hypot((box[0] + box[2] - truth_box[0] - truth_box[2]) / 2,
                        (box[1] + box[3] - truth_box[1] - truth_box[3]) / 2)) < 0.3 * side


def score_scene(codes: Sequence[dict], scene) -> dict:
  """One held-out scene: decoded / wrong / unreadable_true / unreadable_false counts and, per
  true code, whether it was decoded (`per_code`)."""
  truth = [c.payload for c in scene.codes]
  decoded = [c for c in codes if c["status"] == "decoded"]
  got = {c["payload"] for c in decoded}
  per_code = [p in got for p in truth]
  boxes = [_box(c.corners) for c in scene.codes]
  unread_true = unread_false = 0
  for c in codes:
    if c["status"] != "unreadable":
      continue
    hits = [k for k, b in enumerate(boxes) if _on(np.asarray(c["box"], np.float32), b)]
    if not hits:
      unread_false += 1
    elif not any(per_code[k] for k in hits):
      unread_true += 1
  return {"codes": len(truth), "decoded": sum(per_code), "wrong": len(got - set(truth)),
          "unreadable_true": unread_true, "unreadable_false": unread_false, "per_code": per_code}


def score_heldout(results: Sequence[Sequence[dict]], scene_list: Sequence) -> dict:
  """{factor: counts} and "total" over held-out scenes (`score_scene` summed)."""
  out: dict = {}
  for codes, s in zip(results, scene_list):
    r = score_scene(codes, s)
    for key in (s.factor, "total"):
      acc = out.setdefault(key, {"scenes": 0, "codes": 0, "decoded": 0, "wrong": 0, "unreadable_true": 0,
                                 "unreadable_false": 0})
      acc["scenes"] += 1
      for k in ("codes", "decoded", "wrong", "unreadable_true", "unreadable_false"):
        acc[k] += r[k]
  return out


def payload_codes(payloads: Sequence[str]) -> list[dict]:
  """Payload sets of the other readers as decoded `codes` (for `score_heldout`)."""
  return [{"status": "decoded", "payload": p, "box": [0, 0, 0, 0]} for p in payloads]
