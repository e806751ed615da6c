"""Detection average precision at IoU 0.5 and landmark NME over annotated images.

AP follows the PASCAL VOC rule (all-point interpolated area under the
precision/recall curve): detections of all images sorted by score, each
matched to the best-overlapping still-unmatched face of its image with
IoU >= 0.5; a detection whose best face is an ignored one (WIDER `invalid`)
counts neither way. NME: per matched face (IoU >= 0.5 with a detection), the
mean landmark distance divided by the inter-ocular distance (or, with
`normalize="box"`, by sqrt(w * h) of the true box), averaged over faces.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from jaxvis.faces import mining
from jaxvis.errors import InputError


def average_precision(detections: Sequence, faces: Sequence, ignore: Sequence | None = None,
                      iou_threshold: float = 0.5) -> dict:
  """AP over a set of images.

  Args:
    detections: per image, (boxes (D, 4) xyxy, scores (D,)).
    faces: per image, (F, 4) true boxes.
    ignore: per image, (F,) bool faces to ignore (default none).

  Returns:
    {"ap", "recall" (at the lowest score), "precision" (idem), "num_faces", "num_detections"}.
  """
  if len(detections) != len(faces):
    raise InputError("detections", f"expected one entry per image ({len(faces)}), got {len(detections)}")
  ignore = [np.zeros(len(f), bool) for f in faces] if ignore is None else [np.asarray(i, bool) for i in ignore]
  entries = []
  for i, (boxes, scores) in enumerate(detections):
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    scores = np.asarray(scores, np.float32).reshape(-1)
    if len(boxes) != len(scores):
      raise ValueError(f"detections[{i}]: {len(boxes)} boxes but {len(scores)} scores")
    entries += [(float(s), i, b) for b, s in zip(boxes, scores)]
  entries.sort(key=lambda e: -e[0])
  matched = [np.zeros(len(f), bool) for f in faces]
  n_faces = int(sum(int(np.sum(~ig)) for ig in ignore))
  tp, fp = [], []
  for _, i, box in entries:
    gt = np.asarray(faces[i], np.float32).reshape(-1, 4)
    if not len(gt):
      tp.append(0), fp.append(1)
      continue
    iou = mining.iou_matrix(box, gt)[0]
    iou = np.where(matched[i] & ~ignore[i], -1.0, iou)    # a matched face takes no second detection
    j = int(np.argmax(iou))
    if iou[j] >= iou_threshold:
      if ignore[i][j]:
        continue
      matched[i][j] = True
      tp.append(1), fp.append(0)
    else:
      tp.append(0), fp.append(1)
  tp, fp = np.cumsum(tp), np.cumsum(fp)
  recall = tp / max(n_faces, 1)
  precision = tp / np.maximum(tp + fp, 1)
  # VOC all-point: precision envelope, summed over recall steps
  r = np.concatenate([[0.0], recall, [1.0]])
  p = np.concatenate([[0.0], precision, [0.0]])
  for k in range(len(p) - 2, -1, -1):
    p[k] = max(p[k], p[k + 1])
  steps = np.flatnonzero(r[1:] != r[:-1])
  ap = float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1])) if n_faces else 0.0
  return {"ap": ap, "recall": float(recall[-1]) if len(recall) else 0.0,
          "precision": float(precision[-1]) if len(precision) else 0.0,
          "num_faces": n_faces, "num_detections": len(entries)}


def landmark_nme(pred: np.ndarray, true: np.ndarray, boxes: np.ndarray | None = None,
                 normalize: str = "interocular") -> np.ndarray:
  """Per-face normalised mean error of (N, 5, 2) landmarks (eyes are points 0 and 1)."""
  pred = np.asarray(pred, np.float64).reshape(-1, 5, 2)
  true = np.asarray(true, np.float64).reshape(-1, 5, 2)
  err = np.linalg.norm(pred - true, axis=-1).mean(-1)
  if normalize == "interocular":
    d = np.linalg.norm(true[:, 0] - true[:, 1], axis=-1)
  elif normalize == "box":
    if boxes is None:
      raise InputError("boxes", "normalize='box' needs the true boxes")
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    d = np.sqrt((b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1))
  else:
    raise InputError("normalize", f"expected 'interocular' or 'box', got {normalize!r}")
  return err / np.maximum(d, 1e-9)


def match_landmarks(faces_per_image, boxes: Sequence, landmarks: Sequence, iou_threshold: float = 0.5):
  """Pairs each true face with the detection overlapping it most (IoU >= threshold).

  Args:
    faces_per_image: per image, a list of `Face` (box, score, landmarks).
    boxes, landmarks: per image, true (F, 4) boxes and (F, 5, 2) landmarks.

  Returns:
    (pred (M, 5, 2), true (M, 5, 2), true boxes (M, 4), number of faces missed).
  """
  pred, true, tb, missed = [], [], [], 0
  for dets, gb, gl in zip(faces_per_image, boxes, landmarks):
    gb = np.asarray(gb, np.float32).reshape(-1, 4)
    gl = np.asarray(gl, np.float32).reshape(-1, 5, 2)
    if not len(dets):
      missed += len(gb)
      continue
    iou = mining.iou_matrix(gb, np.asarray([d.box for d in dets], np.float32))
    for f in range(len(gb)):
      j = int(np.argmax(iou[f]))
      if iou[f, j] < iou_threshold:
        missed += 1
        continue
      pred.append(np.asarray(dets[j].landmarks, np.float32))
      true.append(gl[f])
      tb.append(gb[f])
  z = np.zeros((0, 5, 2), np.float32)
  return (np.asarray(pred).reshape(-1, 5, 2) if pred else z, np.asarray(true).reshape(-1, 5, 2) if true else z,
          np.asarray(tb).reshape(-1, 4), missed)


def detect_streamed(detector, paths: Sequence[str], load=None, chunk: int | None = None):
  """Yields (faces, capped) per image, decoding only `chunk` images at a time
  (default: the detector's `batch_size`), so memory does not grow with the file list.

  `capped` is True where the image's faces exceeded the detector's `max_faces_limit`
  (its best faces are returned; never silent).
  """
  from jaxvis.faces.training_data import load_image
  load = load or load_image
  chunk = chunk or getattr(detector, "batch_size", 8)
  for start in range(0, len(paths), chunk):
    images = [load(p) for p in paths[start:start + chunk]]
    if hasattr(detector, "detect_with_overflow"):
      dets, over = detector.detect_with_overflow(images)
    else:
      dets, over = detector(images), [False] * len(images)
    yield from zip(dets, over)


def _boxes_scores(faces) -> tuple[np.ndarray, np.ndarray]:
  return (np.asarray([f.box for f in faces], np.float32).reshape(-1, 4),
          np.asarray([f.score for f in faces], np.float32))


def evaluate_wider(detector, records: Sequence, load=None) -> dict:
  """AP at IoU 0.5 of `detector` (a `FaceDetector`) over WIDER records, streamed.

  `images_capped` counts images whose faces exceeded the detector's
  `max_faces_limit` (their best faces are scored; never silent).
  """
  if not len(records):
    raise InputError("records", "no annotated images to evaluate on")
  dets, capped = [], 0
  for faces, over in detect_streamed(detector, [r.path for r in records], load):
    dets.append(_boxes_scores(faces))  # boxes and scores only: a few bytes per face
    capped += bool(over)
  out = average_precision(dets, [r.boxes for r in records], [r.invalid for r in records])
  return {**out, "images_capped": capped}


def evaluate_celeba(detector, records: Sequence, normalize: str = "interocular", load=None) -> dict:
  """Landmark NME under both normalisations (and AP) of `detector` over CelebA records, streamed.

  `nme` is the one `normalize` names; `nme_interocular` (eye-centre distance,
  the MTCNN paper's) and `nme_box` (square root of the true box area) are both
  reported. With no face matched the NMEs are None (not NaN: the output is JSON).
  """
  if normalize not in ("interocular", "box"):
    raise InputError("normalize", f"expected 'interocular' or 'box', got {normalize!r}")
  if not len(records):
    raise InputError("records", "no annotated images to evaluate on")
  dets, capped = [], 0
  pred, true, tb, missed = [], [], [], 0
  for r, (faces, over) in zip(records, detect_streamed(detector, [r.path for r in records], load)):
    capped += bool(over)
    dets.append(_boxes_scores(faces))
    p, t, b, m = match_landmarks([faces], [r.box], [r.landmarks])
    pred.append(p), true.append(t), tb.append(b)
    missed += m
  pred, true, tb = np.concatenate(pred), np.concatenate(true), np.concatenate(tb)
  nme = {k: landmark_nme(pred, true, tb, k) for k in ("interocular", "box")}
  mean = lambda v: float(v.mean()) if len(v) else None
  ap = average_precision(dets, [r.box[None] for r in records])
  return {"nme": mean(nme[normalize]), "nme_normalize": normalize, "nme_interocular": mean(nme["interocular"]),
          "nme_box": mean(nme["box"]), "faces_matched": int(len(pred)), "faces_missed": int(missed),
          "ap": ap["ap"], "images_capped": capped}
