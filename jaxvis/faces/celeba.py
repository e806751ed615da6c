"""Reader for CelebA's annotations, in either published layout.

- in the wild: `Anno/list_bbox_celeba.txt` + `Anno/list_landmarks_celeba.txt`, images in `img_celeba/`;
- aligned and cropped: `Anno/list_landmarks_align_celeba.txt`, images in `img_align_celeba/`
  (178x218). No box file exists for them: the face box is derived from the five
  points with the proportions of MTCNN's own boxes (`box_from_landmarks`).

Both files: line 1 the image count, line 2 the column names, then one row per
image: `000001.jpg    95  71 226 313` (x_1 y_1 width height) and
`000001.jpg 69 109 106 113 77 142 73 152 108 154` (left eye, right eye, nose,
left mouth, right mouth as x y pairs). The images are `img_celeba/<name>`.
Boxes come back as xyxy inclusive pixels, landmarks as (5, 2) (x, y).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from jaxvis.errors import InputError, at_line


@dataclasses.dataclass(frozen=True)
class CelebaRecord:
  path: str
  name: str
  box: np.ndarray        # (4,) xyxy
  landmarks: np.ndarray  # (5, 2)


def _read_table(path: str, argname: str, ncols: int) -> dict[str, np.ndarray]:
  if not os.path.isfile(path):
    raise InputError(argname, f"{path} does not exist")
  try:
    with open(path, encoding="utf-8") as f:
      lines = [(n, ln.split()) for n, ln in enumerate(f, start=1) if ln.strip()]
  except UnicodeDecodeError as e:
    raise InputError(path, f"is not a UTF-8 text file ({e})") from None
  if len(lines) < 2:
    raise InputError(path, f"expected a count line and a header line, got {len(lines)} line(s)")
  n0, first = lines[0]
  if len(first) != 1 or not first[0].isdigit():
    raise InputError(at_line(path, n0), f"expected the image count, got {' '.join(first)!r}")
  count = int(first[0])
  rows: dict[str, np.ndarray] = {}
  for k, parts in lines[2:]:
    where = at_line(path, k)
    if len(parts) != ncols + 1:
      raise InputError(where, f"expected an image name and {ncols} numbers, got {' '.join(parts)!r}")
    try:
      vals = np.asarray([float(v) for v in parts[1:]], np.float32)
    except ValueError:
      raise InputError(where, f"expected {ncols} numbers after the name, got {' '.join(parts[1:])!r}") from None
    if not np.isfinite(vals).all():
      raise InputError(where, f"NaN or infinite value in {' '.join(parts)!r}")
    if parts[0] in rows:
      raise InputError(where, f"{parts[0]} is listed twice")
    rows[parts[0]] = vals
  if not rows:
    raise InputError(path, "holds no image rows")
  if len(rows) != count:
    raise InputError(at_line(path, n0), f"announces {count} images, found {len(rows)}")
  return rows


# MTCNN's boxes against its own five points, measured with the pretrained cascade on the
# scikit-image photos (5 faces): width 1.98-2.14 x the eye distance, height 2.35-2.80 x the
# eye-to-mouth height, the points' centre 0.03-0.11 of the height below the box centre.
_BOX_PER_EYE_DISTANCE = 2.05
_BOX_PER_EYE_MOUTH = 2.5
_CENTRE_BELOW = 0.06


def box_from_landmarks(landmarks) -> np.ndarray:
  """(4,) xyxy face box of five points (left eye, right eye, nose, left mouth, right mouth)."""
  lm = np.asarray(landmarks, np.float32).reshape(5, 2)
  eyes, mouth = lm[:2].mean(0), lm[3:].mean(0)
  width = _BOX_PER_EYE_DISTANCE * float(np.linalg.norm(lm[1] - lm[0]))
  height = _BOX_PER_EYE_MOUTH * float(max(mouth[1] - eyes[1], 1.0))
  cx, cy = float(lm[:, 0].mean()), float((eyes[1] + mouth[1]) / 2 - _CENTRE_BELOW * height)
  return np.array([cx - width / 2, cy - height / 2, cx + width / 2 - 1, cy + height / 2 - 1], np.float32)


def _find(root: str, name: str) -> str:
  for cand in (os.path.join(root, "Anno", name), os.path.join(root, name)):
    if os.path.isfile(cand):
      return cand
  return os.path.join(root, "Anno", name)


def celeba_layout(root: str) -> str:
  """"wild" or "aligned": which published layout `root` holds (in the wild if both)."""
  wild = ("list_bbox_celeba.txt", "list_landmarks_celeba.txt")
  if any(os.path.isfile(_find(root, n)) for n in wild) or os.path.isdir(os.path.join(root, "img_celeba")):
    return "wild"
  if os.path.isfile(_find(root, "list_landmarks_align_celeba.txt")):
    return "aligned"
  raise InputError(root, "holds neither CelebA layout: expected Anno/list_landmarks_celeba.txt + "
                   "img_celeba/ (in the wild) or Anno/list_landmarks_align_celeba.txt + img_align_celeba/")


def read_celeba(root: str, bbox_file: str | None = None, landmarks_file: str | None = None,
                images_dir: str | None = None, layout: str = "auto") -> list[CelebaRecord]:
  """Reads CelebA boxes and landmarks (in the wild: the images present in both files).

  Args:
    root: CelebA folder holding `Anno/` (or the files directly) and the image folder.
    bbox_file, landmarks_file, images_dir: override the default locations.
    layout: "wild", "aligned" or "auto" (`celeba_layout`).
  """
  if layout not in ("auto", "wild", "aligned"):
    raise InputError("layout", f"expected 'auto', 'wild' or 'aligned', got {layout!r}")
  if layout == "auto":
    layout = "wild" if bbox_file or landmarks_file else celeba_layout(root)
  if layout == "aligned":
    return _read_aligned(root, landmarks_file, images_dir)
  find = lambda name: _find(root, name)
  bbox_file = bbox_file or find("list_bbox_celeba.txt")
  landmarks_file = landmarks_file or find("list_landmarks_celeba.txt")
  images_dir = images_dir or os.path.join(root, "img_celeba")
  boxes = _read_table(bbox_file, "bbox_file", 4)
  marks = _read_table(landmarks_file, "landmarks_file", 10)
  out = []
  for name, xywh in boxes.items():
    if name not in marks:
      continue
    if xywh[2] <= 0 or xywh[3] <= 0:
      raise InputError(bbox_file, f"{name}: box width and height must be > 0, got {xywh.tolist()}")
    box = np.array([xywh[0], xywh[1], xywh[0] + xywh[2] - 1, xywh[1] + xywh[3] - 1], np.float32)
    out.append(CelebaRecord(os.path.join(images_dir, name), name, box, marks[name].reshape(5, 2)))
  return out


def _read_aligned(root: str, landmarks_file: str | None, images_dir: str | None) -> list[CelebaRecord]:
  landmarks_file = landmarks_file or _find(root, "list_landmarks_align_celeba.txt")
  images_dir = images_dir or os.path.join(root, "img_align_celeba")
  marks = _read_table(landmarks_file, "landmarks_file", 10)
  out = []
  for name, values in marks.items():
    lm = values.reshape(5, 2)
    if not lm[1, 0] > lm[0, 0]:
      raise InputError(landmarks_file, f"{name}: the right eye (x={lm[1, 0]:g}) must lie right of the "
                       f"left eye (x={lm[0, 0]:g}) in an aligned image")
    out.append(CelebaRecord(os.path.join(images_dir, name), name, box_from_landmarks(lm), lm))
  return out


def write_celeba(root: str, records) -> None:
  """Writes (name, box xyxy, landmarks (5, 2)) tuples as `Anno/list_bbox_celeba.txt`
  and `Anno/list_landmarks_celeba.txt` in the published layout."""
  os.makedirs(os.path.join(root, "Anno"), exist_ok=True)
  records = list(records)
  with open(os.path.join(root, "Anno", "list_bbox_celeba.txt"), "w") as f:
    f.write(f"{len(records)}\nimage_id x_1 y_1 width height\n")
    for name, box, _ in records:
      x, y = int(round(box[0])), int(round(box[1]))
      f.write(f"{name} {x:5d} {y:4d} {int(round(box[2] - box[0] + 1)):4d} {int(round(box[3] - box[1] + 1)):4d}\n")
  with open(os.path.join(root, "Anno", "list_landmarks_celeba.txt"), "w") as f:
    f.write(f"{len(records)}\nlefteye_x lefteye_y righteye_x righteye_y nose_x nose_y "
            "leftmouth_x leftmouth_y rightmouth_x rightmouth_y\n")
    for name, _, lm in records:
      f.write(name + " " + " ".join(f"{int(round(v)):4d}" for v in np.asarray(lm).reshape(-1)) + "\n")


def write_celeba_aligned(root: str, records) -> None:
  """Writes (name, landmarks (5, 2)) pairs as `Anno/list_landmarks_align_celeba.txt` (published layout)."""
  os.makedirs(os.path.join(root, "Anno"), exist_ok=True)
  records = list(records)
  with open(os.path.join(root, "Anno", "list_landmarks_align_celeba.txt"), "w") as f:
    f.write(f"{len(records)}\nlefteye_x lefteye_y righteye_x righteye_y nose_x nose_y "
            "leftmouth_x leftmouth_y rightmouth_x rightmouth_y\n")
    for name, lm in records:
      f.write(name + " " + " ".join(f"{int(round(v)):4d}" for v in np.asarray(lm).reshape(-1)) + "\n")
