"""Training-sample mining for the MTCNN stages, as the paper and the authors' scripts do.

Labels (the authors' convention): 1 positive (IoU > 0.65 with a face), -1 part
face (0.4 <= IoU <= 0.65), 0 negative (IoU < 0.3), -2 landmark sample
(CelebA); crops with IoU in [0.3, 0.4) are not used.

Targets follow the cascade's own decoding (`cascade.py`), so a trained network
plugs straight into `faces.detect`:
- box: `(g - c) / (w, h, w, h)` for crop c, face g, `w = x2 - x1 + 1`
  (the inverse of `ops.boxes.regress(..., offset=1)`);
- landmarks: `(x - x1 + 1) / w` for the five x, then the five y (O-Net layout);
- L-Net: each true landmark in its patch, as a fraction of the patch side
  (the inverse of `cascade.lnet_stage`).

Crops are cut at integer pixels, zero-padded outside the image and resized
bilinearly with OpenCV (the authors' scripts do the same); the cascade samples
its crops with TF's crop_and_resize rule, a sub-pixel difference.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable

import numpy as np

from jaxvis.errors import InputError

POSITIVE, NEGATIVE, PART, LANDMARK = 1, 0, -1, -2
STAGE_SIZES = {"pnet": 12, "rnet": 24, "onet": 48}


@dataclasses.dataclass
class Samples:
  """Training crops of one stage.

  Attributes:
    images: (N, S, S, 3) uint8 RGB crops.
    labels: (N,) int32 in {1, 0, -1, -2}.
    boxes: (N, 4) float32 box-regression targets (0 where unused).
    landmarks: (N, 2L) float32 landmark targets `(x1..xL, y1..yL)` (0 where unused);
      L = 5 face landmarks, or 4 corners for QR codes.
  """
  images: np.ndarray
  labels: np.ndarray
  boxes: np.ndarray
  landmarks: np.ndarray

  def __len__(self) -> int:
    return len(self.labels)

  def as_arrays(self) -> dict[str, np.ndarray]:
    return {"image": self.images, "label": self.labels, "box": self.boxes, "landmark": self.landmarks}

  def counts(self) -> dict[str, int]:
    names = {POSITIVE: "positive", NEGATIVE: "negative", PART: "part", LANDMARK: "landmark"}
    return {n: int(np.sum(self.labels == v)) for v, n in names.items()}


def empty(size: int, num_points: int = 5) -> Samples:
  return Samples(np.zeros((0, size, size, 3), np.uint8), np.zeros((0,), np.int32),
                 np.zeros((0, 4), np.float32), np.zeros((0, 2 * num_points), np.float32))


def concat(parts: Iterable[Samples], size: int, num_points: int = 5) -> Samples:
  parts = [p for p in parts if len(p)]
  if not parts:
    return empty(size, num_points)
  return Samples(*(np.concatenate([getattr(p, f.name) for p in parts])
                   for f in dataclasses.fields(Samples)))


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """(N, M) IoU of inclusive-pixel xyxy boxes (numpy; host-side mining)."""
  a = np.asarray(a, np.float64).reshape(-1, 4)
  b = np.asarray(b, np.float64).reshape(-1, 4)
  iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]) + 1
  ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]) + 1
  inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
  area_a = (a[:, 2] - a[:, 0] + 1) * (a[:, 3] - a[:, 1] + 1)
  area_b = (b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1)
  return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def label_by_iou(iou: np.ndarray) -> np.ndarray:
  """Positive > 0.65, part 0.4-0.65, negative < 0.3, else -3 (unused)."""
  return np.where(iou > 0.65, POSITIVE, np.where(iou >= 0.4, PART, np.where(iou < 0.3, NEGATIVE, -3)))


def crop_resize(image: np.ndarray, box, size: int) -> np.ndarray:
  """The inclusive integer box of `image`, zero outside, resized to size x size (uint8)."""
  import cv2
  x1, y1, x2, y2 = (int(round(v)) for v in box)
  h, w = image.shape[:2]
  out = np.zeros((y2 - y1 + 1, x2 - x1 + 1, 3), np.uint8)
  sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x2, w - 1), min(y2, h - 1)
  if sx2 >= sx1 and sy2 >= sy1:
    out[sy1 - y1:sy2 - y1 + 1, sx1 - x1:sx2 - x1 + 1] = image[sy1:sy2 + 1, sx1:sx2 + 1]
  return cv2.resize(out, (size, size), interpolation=cv2.INTER_LINEAR)


def box_targets(crops: np.ndarray, faces: np.ndarray) -> np.ndarray:
  """Regression targets that `ops.boxes.regress(crops, t, offset=1)` turns into `faces`."""
  crops = np.asarray(crops, np.float32).reshape(-1, 4)
  w = crops[:, 2] - crops[:, 0] + 1
  h = crops[:, 3] - crops[:, 1] + 1
  return ((np.asarray(faces, np.float32).reshape(-1, 4) - crops) / np.stack([w, h, w, h], -1)).astype(np.float32)


def landmark_targets(crops: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
  """(N, 2L) `(x1..xL, y1..yL)` fractions that the cascade decodes back to `landmarks` (N, L, 2)."""
  crops = np.asarray(crops, np.float32).reshape(-1, 4)
  lm = np.asarray(landmarks, np.float32).reshape(len(crops), -1, 2)
  w = (crops[:, 2] - crops[:, 0] + 1)[:, None]
  h = (crops[:, 3] - crops[:, 1] + 1)[:, None]
  tx = (lm[..., 0] - crops[:, 0, None] + 1) / w
  ty = (lm[..., 1] - crops[:, 1, None] + 1) / h
  return np.concatenate([tx, ty], axis=1).astype(np.float32)


def _check_image(image: np.ndarray) -> np.ndarray:
  image = np.asarray(image)
  if image.ndim != 3 or image.shape[-1] != 3:
    raise InputError("image", f"expected (H, W, 3) RGB, got shape {image.shape}")
  return image.astype(np.uint8)


def _check_boxes(boxes) -> np.ndarray:
  boxes = np.asarray(boxes, np.float32).reshape(-1, 4) if len(np.asarray(boxes)) else np.zeros((0, 4), np.float32)
  if boxes.ndim != 2 or boxes.shape[1] != 4:
    raise InputError("faces", f"expected (F, 4) xyxy boxes, got shape {boxes.shape}")
  return boxes


def _make(image, crops, labels, targets, size, num_points: int = 5) -> Samples:
  keep = labels != -3
  crops, labels, targets = crops[keep], labels[keep], targets[keep]
  if not len(crops):
    return empty(size, num_points)
  targets = np.where((labels == NEGATIVE)[:, None], 0.0, targets).astype(np.float32)
  imgs = np.stack([crop_resize(image, c, size) for c in crops])
  return Samples(imgs, labels.astype(np.int32), targets, np.zeros((len(crops), 2 * num_points), np.float32))


def mine_random(image: np.ndarray, faces, size: int, rng: np.random.Generator,
                negatives: int = 50, negatives_near: int = 5, around: int = 20,
                ignore=None, num_points: int = 5) -> Samples:
  """Random crops of one image labelled against its faces (the authors' P-Net data rule).

  `negatives` random squares of side [12, min(H, W) / 2) kept if IoU < 0.3;
  per face (sides >= 20 px, as the authors' script), `negatives_near` squares
  shifted up to one side away (kept if IoU < 0.3) and `around` crops of side
  [0.8 min(w, h), 1.25 max(w, h)] shifted up to 0.2 w, labelled positive/part by IoU.

  Args:
    image: (H, W, 3) uint8.
    faces: (F, 4) xyxy face boxes.
    size: output crop side (12, 24 or 48).
    ignore: optional (F,) bool: faces not mined around (e.g. WIDER `invalid`);
      they still count for the IoU of negatives.
    num_points: landmark points per sample (zero targets here; sets the array width).
  """
  image = _check_image(image)
  faces = _check_boxes(faces)
  h, w = image.shape[:2]
  ignore = np.zeros(len(faces), bool) if ignore is None else np.asarray(ignore, bool)
  crops = []
  lo, hi = 12, max(13, min(h, w) // 2)
  for _ in range(negatives):
    s = int(rng.integers(lo, hi))
    x, y = int(rng.integers(0, max(1, w - s))), int(rng.integers(0, max(1, h - s)))
    crops.append((x, y, x + s - 1, y + s - 1))
  for f, ign in zip(faces, ignore):
    fw, fh = f[2] - f[0] + 1, f[3] - f[1] + 1
    if ign or min(fw, fh) < 20 or f[0] < 0 or f[1] < 0:
      continue
    for _ in range(negatives_near):
      s = int(rng.integers(12, max(13, int(min(w, h) / 2))))
      dx = int(rng.integers(int(max(-s, -f[0])), max(int(fw), int(max(-s, -f[0])) + 1)))
      dy = int(rng.integers(int(max(-s, -f[1])), max(int(fh), int(max(-s, -f[1])) + 1)))
      x, y = int(f[0] + dx), int(f[1] + dy)
      if x + s <= w and y + s <= h:
        crops.append((x, y, x + s - 1, y + s - 1))
    for _ in range(around):
      s = int(rng.integers(int(min(fw, fh) * 0.8), int(np.ceil(1.25 * max(fw, fh))) + 1))
      dx, dy = rng.uniform(-0.2, 0.2) * fw, rng.uniform(-0.2, 0.2) * fh
      x = int(max(f[0] + fw / 2 + dx - s / 2, 0))
      y = int(max(f[1] + fh / 2 + dy - s / 2, 0))
      if x + s <= w and y + s <= h:
        crops.append((x, y, x + s - 1, y + s - 1))
  crops = np.asarray(crops, np.float32).reshape(-1, 4)
  if not len(faces):
    return _make(image, crops, np.zeros(len(crops), np.int64), np.zeros((len(crops), 4)), size, num_points)
  iou = iou_matrix(crops, faces)
  best = iou.argmax(1)
  labels = label_by_iou(iou.max(1))
  return _make(image, crops, labels, box_targets(crops, faces[best]), size, num_points)


def mine_landmarks(image: np.ndarray, face, landmarks, size: int, rng: np.random.Generator,
                   count: int = 10) -> Samples:
  """Landmark samples (label -2): jittered crops of a CelebA face (or a QR code) with IoU > 0.65.

  `landmarks` is (L, 2): the 5 face landmarks, or a QR code's 4 corners.

  The face box itself is always the first sample; then up to `count` crops of
  side [0.8 min(w, h), 1.25 max(w, h)] shifted up to 0.2 w (10x as many tries).
  """
  image = _check_image(image)
  face = _check_boxes(face)[0]
  lm = np.asarray(landmarks, np.float32)
  if lm.ndim != 2 or lm.shape[1] != 2 or len(lm) < 1:
    raise InputError("landmarks", f"expected (L, 2) (x, y), got shape {lm.shape}")
  fw, fh = face[2] - face[0] + 1, face[3] - face[1] + 1
  crops = [tuple(face)]
  for _ in range(10 * count):
    if len(crops) > count:
      break
    s = int(rng.integers(int(min(fw, fh) * 0.8), int(np.ceil(1.25 * max(fw, fh))) + 1))
    x = int(face[0] + fw / 2 + rng.uniform(-0.2, 0.2) * fw - s / 2)
    y = int(face[1] + fh / 2 + rng.uniform(-0.2, 0.2) * fh - s / 2)
    c = (x, y, x + s - 1, y + s - 1)
    if iou_matrix(c, face)[0, 0] > 0.65:
      crops.append(c)
  crops = np.asarray(crops, np.float32)
  imgs = np.stack([crop_resize(image, c, size) for c in crops])
  n = len(crops)
  return Samples(imgs, np.full(n, LANDMARK, np.int32), box_targets(crops, np.tile(face, (n, 1))),
                 landmark_targets(crops, np.tile(lm[None], (n, 1, 1))))


def lnet_patch_geometry(box, landmarks):
  """Patch side and (5, 2) origins exactly as `cascade.lnet_stage` computes them."""
  side = max(box[2] - box[0] + 1, box[3] - box[1] + 1)
  pw = float(np.round(side * 0.25))
  pw = pw + 1 if pw % 2 == 1 else pw
  return pw, np.round(np.asarray(landmarks, np.float32) - 0.5 * pw)


def mine_lnet(image: np.ndarray, face, landmarks, rng: np.random.Generator, count: int = 10,
              jitter: float = 0.15):
  """L-Net samples: five 24x24 patches around landmarks jittered by up to `jitter` patch.

  Returns:
    (patches (N, 5, 24, 24, 3) uint8, targets (N, 5, 2) true landmark in patch units).
  """
  image = _check_image(image)
  face = _check_boxes(face)[0]
  lm = np.asarray(landmarks, np.float32)
  if lm.shape != (5, 2):
    raise InputError("landmarks", f"expected (5, 2) (x, y), got shape {lm.shape}")
  pw, _ = lnet_patch_geometry(face, lm)
  patches, targets = [], []
  for i in range(count):
    noisy = lm + (0 if i == 0 else rng.uniform(-jitter, jitter, lm.shape) * pw)
    _, origin = lnet_patch_geometry(face, noisy)
    patches.append(np.stack([crop_resize(image, (*o, *(o + pw - 1)), 24) for o in origin]))
    targets.append((lm - origin) / pw)
  return np.stack(patches), np.stack(targets).astype(np.float32)


def label_proposals(image: np.ndarray, proposals, faces, size: int, ignore=None,
                    num_points: int = 5) -> Samples:
  """Crops of a previous stage's proposals, labelled against the true faces (hard examples).

  Proposals are squared boxes as the cascade passes them on; they are rounded to
  integer pixels as the authors' `gen_hard_example` does.
  """
  image = _check_image(image)
  faces = _check_boxes(faces)
  crops = np.round(np.asarray(proposals, np.float32).reshape(-1, 4))
  if not len(crops):
    return empty(size, num_points)
  if not len(faces):
    return _make(image, crops, np.zeros(len(crops), np.int64), np.zeros((len(crops), 4)), size, num_points)
  iou = iou_matrix(crops, faces)
  best = iou.argmax(1)
  labels = label_by_iou(iou.max(1))
  if ignore is not None:  # a proposal on an ignored face is neither positive nor negative
    labels = np.where(np.asarray(ignore, bool)[best] & (iou.max(1) >= 0.3), -3, labels)
  return _make(image, crops, labels, box_targets(crops, faces[best]), size, num_points)
