"""The official WIDER FACE evaluation: easy / medium / hard AP on the validation set.

Published protocol (the `wider_eval` MATLAB tool of Yang et al. and its Python
ports, which every face detector paper reports: MTCNN 0.851 / 0.820 / 0.607):

* Ground truth: `wider_face_val.mat` (`event_list`, `file_list`, `face_bbx_list`:
  x y w h per face) and `wider_{easy,medium,hard}_val.mat` (`gt_list`: per image
  the 1-based indices of the faces that count in that subset). Faces outside
  the subset are *ignored*: a detection matching one is neither a true nor a
  false positive. The .mat files are read with scipy (MATLAB v5 data, no code).
* Scores are min-max normalised over all detections of all images.
* Per image, detections in descending score order are matched greedily: the
  ground-truth face of highest IoU (boxes as inclusive pixels, `x2 = x + w`,
  areas `(x2 - x1 + 1) * (y2 - y1 + 1)`); IoU >= 0.5 with a counted face marks
  it found (once), with an ignored face removes the detection.
* At 1000 score thresholds t = 1 - k/1000 the counts of kept detections and of
  found faces are summed over images; precision = found / detections, recall =
  found / faces in the subset (every image's subset faces count, detections or
  not); AP is the area under the precision envelope (VOC 2010+ rule).

Detections come straight from `jaxvis.faces` (or any detector) as per-image
arrays, or from a folder in the submission format (`<event>/<image>.txt`: name,
count, then `x y w h score` lines).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Iterable, Mapping

import numpy as np

from jaxvis.errors import InputError, at_line

SUBSETS = ("easy", "medium", "hard")
IOU_THRESHOLD = 0.5
NUM_THRESHOLDS = 1000


@dataclasses.dataclass(frozen=True)
class WiderGroundTruth:
  """The validation ground truth: per image its event, faces and subset membership.

  Attributes:
    images: image names as in `file_list` (no extension), e.g. "0_Parade_marchingband_1_465".
    events: each image's event folder, e.g. "0--Parade".
    boxes: per image an (F, 4) float array x, y, w, h.
    keep: subset name -> per image the 0-based indices of the faces that count.
  """
  images: tuple[str, ...]
  events: tuple[str, ...]
  boxes: tuple[np.ndarray, ...]
  keep: Mapping[str, tuple[np.ndarray, ...]]


def _loadmat(path: str, keys: Iterable[str]) -> dict:
  from scipy.io import loadmat
  if not os.path.isfile(path):
    raise InputError(path, "does not exist (expected the wider_eval ground-truth .mat files)")
  try:
    mat = loadmat(path)
  except Exception as e:  # scipy raises several types for non-MATLAB or truncated files
    raise InputError(path, f"is not a readable MATLAB .mat file ({type(e).__name__}: {e})") from None
  missing = [k for k in keys if k not in mat]
  if missing:
    raise InputError(path, f"lacks {missing} (has {sorted(k for k in mat if not k.startswith('__'))})")
  return mat


def _text(cell) -> str:
  value = np.asarray(cell).ravel()
  return str(value[0]) if value.size else ""


def read_ground_truth(gt_dir: str) -> WiderGroundTruth:
  """Reads `wider_face_val.mat` and the three `wider_<subset>_val.mat` files from `gt_dir`."""
  face = _loadmat(os.path.join(gt_dir, "wider_face_val.mat"), ("event_list", "file_list", "face_bbx_list"))
  subsets = {s: _loadmat(os.path.join(gt_dir, f"wider_{s}_val.mat"), ("gt_list",))["gt_list"]
             for s in SUBSETS}
  images, events, boxes = [], [], []
  keep: dict[str, list[np.ndarray]] = {s: [] for s in SUBSETS}
  events_cells = face["event_list"].ravel()
  for e, event_cell in enumerate(events_cells):
    event = _text(event_cell)
    files = face["file_list"].ravel()[e].ravel()
    bbx = face["face_bbx_list"].ravel()[e].ravel()
    if len(files) != len(bbx):
      raise InputError(os.path.join(gt_dir, "wider_face_val.mat"),
                       f"event {event}: {len(files)} files but {len(bbx)} box lists")
    for i, file_cell in enumerate(files):
      b = np.asarray(bbx[i], np.float64).reshape(-1, 4)
      if not np.isfinite(b).all() or (b[:, 2:] < 0).any():
        raise InputError(os.path.join(gt_dir, "wider_face_val.mat"),
                         f"{event}/{_text(file_cell)}: boxes must be finite with w, h >= 0")
      images.append(_text(file_cell))
      events.append(event)
      boxes.append(b)
      for s in SUBSETS:
        idx = np.asarray(subsets[s].ravel()[e].ravel()[i], np.int64).ravel() - 1
        if idx.size and (idx.min() < 0 or idx.max() >= len(b)):
          raise InputError(os.path.join(gt_dir, f"wider_{s}_val.mat"),
                           f"{event}/{images[-1]}: face index out of 1..{len(b)}")
        keep[s].append(idx)
  if not images:
    raise InputError(gt_dir, "wider_face_val.mat lists no images")
  return WiderGroundTruth(tuple(images), tuple(events), tuple(boxes),
                          {s: tuple(v) for s, v in keep.items()})


def head(gt: WiderGroundTruth, n: int | None) -> WiderGroundTruth:
  """The first `n` images of the ground truth (all when n is None)."""
  if n is None:
    return gt
  return WiderGroundTruth(gt.images[:n], gt.events[:n], gt.boxes[:n],
                          {s: v[:n] for s, v in gt.keep.items()})


def image_path(images_dir: str, event: str, name: str) -> str:
  """`WIDER_val/images/<event>/<name>.jpg`, the published image layout."""
  return os.path.join(images_dir, event, f"{name}.jpg")


def detect_predictions(detector, gt: WiderGroundTruth, images_dir: str,
                       chunk: int = 8) -> tuple[dict[str, np.ndarray], list[str], int]:
  """Runs a `FaceDetector` over the validation images, `chunk` images at a time.

  Memory holds one chunk of decoded images, not the set (3,226 WIDER val images
  would need ~32 GB decoded at once). An unreadable image is reported and counts
  as having no detections.

  Returns:
    (image name -> (N, 5) x y w h score, unreadable files with their problem,
    images whose faces hit the detector's `max_faces_limit`).
  """
  from jaxvis.data.images import iter_images
  preds, unreadable, capped = {}, [], 0
  paths = [image_path(images_dir, e, n) for e, n in zip(gt.events, gt.images)]
  for start in range(0, len(paths), chunk):
    loaded = list(iter_images(paths[start:start + chunk]))
    names = gt.images[start:start + chunk]
    good = [(name, item.image) for name, item in zip(names, loaded) if item.image is not None]
    unreadable += [f"{item.path}: {item.error.problem}" for item in loaded if item.error is not None]
    if not good:
      continue
    faces, overflow = detector.detect_with_overflow([im for _, im in good])
    capped += int(sum(overflow))
    for (name, _), fs in zip(good, faces):
      preds[name] = np.asarray([[f.box[0], f.box[1], f.box[2] - f.box[0], f.box[3] - f.box[1], f.score]
                                for f in fs], np.float64).reshape(-1, 5)
  return preds, unreadable, capped


def write_ground_truth(gt_dir: str, events: Mapping[str, Mapping[str, np.ndarray]],
                       subsets: Mapping[str, Mapping[str, Iterable[int]]]) -> None:
  """Writes the four .mat files in the published layout (cell arrays), for tests.

  Args:
    events: event -> image name -> (F, 4) x y w h.
    subsets: subset -> image name -> 1-based indices of the faces that count.
  """
  from scipy.io import savemat

  def cells(items):
    out = np.empty((len(items), 1), dtype=object)
    for k, v in enumerate(items):
      out[k, 0] = v
    return out

  names = list(events)
  savemat(os.path.join(gt_dir, "wider_face_val.mat"), {
      "event_list": cells([np.array([e]) for e in names]),
      "file_list": cells([cells([np.array([f]) for f in events[e]]) for e in names]),
      "face_bbx_list": cells([cells([np.asarray(b, np.float64).reshape(-1, 4) for b in events[e].values()])
                              for e in names])})
  for s in SUBSETS:
    savemat(os.path.join(gt_dir, f"wider_{s}_val.mat"), {"gt_list": cells([
        cells([np.asarray(list(subsets[s].get(f, [])), np.float64).reshape(-1, 1) for f in events[e]])
        for e in names])})


def read_predictions(pred_dir: str) -> dict[str, np.ndarray]:
  """The submission format: `<event>/<image>.txt` holding the name, a count, `x y w h score` lines.

  Returns:
    image name (no extension) -> (N, 5) x, y, w, h, score.
  """
  if not os.path.isdir(pred_dir):
    raise InputError(pred_dir, "is not a folder of <event>/<image>.txt prediction files")
  out = {}
  for event in sorted(os.listdir(pred_dir)):
    folder = os.path.join(pred_dir, event)
    if not os.path.isdir(folder):
      continue
    for name in sorted(os.listdir(folder)):
      if name.endswith(".txt"):
        path = os.path.join(folder, name)
        out[name[:-4]] = _read_prediction_file(path)
  if not out:
    raise InputError(pred_dir, "holds no <event>/<image>.txt prediction files")
  return out


def _read_prediction_file(path: str) -> np.ndarray:
  with open(path, encoding="utf-8") as f:
    lines = [ln.strip() for ln in f]
  if len(lines) < 2 or not lines[1].isdigit():
    raise InputError(at_line(path, 2), "expected the image name, then the number of boxes")
  count = int(lines[1])
  rows = [ln for ln in lines[2:] if ln]
  if len(rows) < count:
    raise InputError(path, f"announces {count} boxes, has {len(rows)}")
  boxes = []
  for k, text in enumerate(rows[:count], start=3):
    try:
      vals = [float(v) for v in text.split()[:5]]
    except ValueError:
      vals = []
    if len(vals) != 5 or not np.isfinite(vals).all():
      raise InputError(at_line(path, k), f"expected 'x y w h score', got {text!r}")
    boxes.append(vals)
  return np.asarray(boxes, np.float64).reshape(-1, 5)


def normalize_scores(predictions: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
  """Min-max normalises the scores over all images (as the protocol does)."""
  scores = [p[:, 4] for p in predictions.values() if len(p)]
  if not scores:
    return {k: np.asarray(v, np.float64).reshape(-1, 5) for k, v in predictions.items()}
  allv = np.concatenate(scores)
  lo, hi = float(allv.min()), float(allv.max())
  span = hi - lo if hi > lo else 1.0
  out = {}
  for k, p in predictions.items():
    p = np.asarray(p, np.float64).reshape(-1, 5).copy()
    p[:, 4] = (p[:, 4] - lo) / span if hi > lo else 1.0
    out[k] = p
  return out


def _iou_inclusive(pred_xyxy: np.ndarray, gt_xyxy: np.ndarray) -> np.ndarray:
  """(N, K) IoU with the protocol's inclusive-pixel areas (+1 on width and height)."""
  ix1 = np.maximum(pred_xyxy[:, None, 0], gt_xyxy[None, :, 0])
  iy1 = np.maximum(pred_xyxy[:, None, 1], gt_xyxy[None, :, 1])
  ix2 = np.minimum(pred_xyxy[:, None, 2], gt_xyxy[None, :, 2])
  iy2 = np.minimum(pred_xyxy[:, None, 3], gt_xyxy[None, :, 3])
  iw = np.clip(ix2 - ix1 + 1, 0, None)
  ih = np.clip(iy2 - iy1 + 1, 0, None)
  inter = iw * ih
  area_p = (pred_xyxy[:, 2] - pred_xyxy[:, 0] + 1) * (pred_xyxy[:, 3] - pred_xyxy[:, 1] + 1)
  area_g = (gt_xyxy[:, 2] - gt_xyxy[:, 0] + 1) * (gt_xyxy[:, 3] - gt_xyxy[:, 1] + 1)
  union = area_p[:, None] + area_g[None, :] - inter
  return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def match_image(pred: np.ndarray, gt: np.ndarray, counted: np.ndarray,
                iou_threshold: float = IOU_THRESHOLD) -> tuple[np.ndarray, np.ndarray]:
  """Greedy matching of one image's detections (descending score) to its faces.

  Returns:
    found: (N,) faces found so far after each detection (cumulative).
    kept: (N,) False for detections matched to an ignored face (not counted at all).
  """
  pred_xyxy = np.concatenate([pred[:, :2], pred[:, :2] + pred[:, 2:4]], axis=1)
  gt_xyxy = np.concatenate([gt[:, :2], gt[:, :2] + gt[:, 2:4]], axis=1)
  overlaps = _iou_inclusive(pred_xyxy, gt_xyxy)
  state = np.zeros(len(gt), np.int64)   # 1 found, -1 ignored face hit
  found = np.zeros(len(pred), np.int64)
  kept = np.ones(len(pred), bool)
  for h in range(len(pred)):
    best = int(overlaps[h].argmax())
    if overlaps[h, best] >= iou_threshold:
      if not counted[best]:
        state[best] = -1
        kept[h] = False
      elif state[best] == 0:
        state[best] = 1
    found[h] = int((state == 1).sum())
  return found, kept


def image_pr_counts(pred: np.ndarray, found: np.ndarray, kept: np.ndarray,
                    num_thresholds: int = NUM_THRESHOLDS) -> np.ndarray:
  """(T, 2): detections kept and faces found at each threshold t = 1 - (k+1)/T."""
  out = np.zeros((num_thresholds, 2))
  for t in range(num_thresholds):
    thresh = 1.0 - (t + 1) / num_thresholds
    above = np.nonzero(pred[:, 4] >= thresh)[0]
    if len(above):
      last = above[-1]
      out[t, 0] = kept[:last + 1].sum()
      out[t, 1] = found[last]
  return out


def voc_ap(recall: np.ndarray, precision: np.ndarray) -> float:
  """Area under the monotone precision envelope (VOC 2010+), as the protocol computes it."""
  mrec = np.concatenate([[0.0], recall, [1.0]])
  mpre = np.concatenate([[0.0], precision, [0.0]])
  for i in range(len(mpre) - 1, 0, -1):
    mpre[i - 1] = max(mpre[i - 1], mpre[i])
  idx = np.nonzero(mrec[1:] != mrec[:-1])[0]
  return float(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1]))


@dataclasses.dataclass(frozen=True)
class SubsetResult:
  ap: float
  precision: np.ndarray   # (T,) at thresholds 1 - (k+1)/T
  recall: np.ndarray
  faces: int               # faces of the subset (the recall denominator)


def evaluate(gt: WiderGroundTruth, predictions: Mapping[str, np.ndarray],
             iou_threshold: float = IOU_THRESHOLD,
             num_thresholds: int = NUM_THRESHOLDS) -> dict[str, SubsetResult]:
  """AP per subset.

  Args:
    gt: from `read_ground_truth`.
    predictions: image name -> (N, 5) x, y, w, h, score (raw scores; normalised here).
      Images without an entry have no detections.
  """
  for name, p in predictions.items():
    p = np.asarray(p)
    if p.ndim != 2 or p.shape[1] != 5 or not np.isfinite(p).all():
      raise InputError(f"predictions[{name!r}]", f"expected finite (N, 5) x y w h score, got {p.shape}")
  preds = normalize_scores(predictions)
  results = {}
  for subset in SUBSETS:
    counts = np.zeros((num_thresholds, 2))
    faces = 0
    for i, name in enumerate(gt.images):
      keep = gt.keep[subset][i]
      faces += len(keep)
      pred = preds.get(name)
      if pred is None or not len(pred) or not len(gt.boxes[i]):
        continue
      pred = pred[np.argsort(-pred[:, 4], kind="stable")]
      counted = np.zeros(len(gt.boxes[i]), bool)
      counted[keep] = True
      found, kept = match_image(pred, gt.boxes[i], counted, iou_threshold)
      counts += image_pr_counts(pred, found, kept, num_thresholds)
    precision = np.divide(counts[:, 1], counts[:, 0], out=np.zeros(num_thresholds),
                          where=counts[:, 0] > 0)
    recall = counts[:, 1] / max(faces, 1)
    results[subset] = SubsetResult(voc_ap(recall, precision), precision, recall, faces)
  return results


def plot_pr_curves(results: Mapping[str, SubsetResult], path: str, label: str = "jaxvis") -> None:
  """One panel per subset, precision against recall, AP in the legend (PNG)."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  fig, axes = plt.subplots(1, len(results), figsize=(4 * len(results), 4), squeeze=False)
  for ax, (subset, r) in zip(axes[0], results.items()):
    ax.plot(r.recall, r.precision, label=f"{label} (AP {r.ap:.3f})")
    ax.set_title(f"WIDER FACE val, {subset} ({r.faces} faces)")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)
