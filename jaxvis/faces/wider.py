"""Reader for the WIDER FACE ground-truth files (`wider_face_split/wider_face_*_bbx_gt.txt`).

The published format, one record per image:

    0--Parade/0_Parade_marchingband_1_849.jpg
    1
    449 330 122 149 0 0 0 0 0 0

i.e. the image path relative to `WIDER_<split>/images/`, the face count, then one
line per face `x y w h blur expression illumination invalid occlusion pose`.
An image with no face has count 0 followed by one all-zero line (skipped).
Boxes are returned as xyxy pixels with inclusive corners, `x2 = x + w - 1`.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from jaxvis.errors import InputError, at_line

ATTRIBUTES = ("blur", "expression", "illumination", "invalid", "occlusion", "pose")


@dataclasses.dataclass(frozen=True)
class WiderRecord:
  """One annotated image.

  Attributes:
    path: absolute (or root-joined) path of the image file.
    name: the path as written in the annotation file.
    boxes: (F, 4) float32 xyxy pixel boxes.
    attributes: (F, 6) int32, columns as `ATTRIBUTES`.
  """
  path: str
  name: str
  boxes: np.ndarray
  attributes: np.ndarray

  @property
  def invalid(self) -> np.ndarray:
    """(F,) bool: faces the annotators marked invalid (or with non-positive size)."""
    w = self.boxes[:, 2] - self.boxes[:, 0] + 1
    h = self.boxes[:, 3] - self.boxes[:, 1] + 1
    return (self.attributes[:, 3] != 0) | (w <= 0) | (h <= 0)


def read_bbx_gt(annotation_file: str, images_dir: str | None = None) -> list[WiderRecord]:
  """Parses a `wider_face_*_bbx_gt.txt` file.

  Args:
    annotation_file: path of the ground-truth file.
    images_dir: folder the image names are relative to; default: the
      `WIDER_<split>/images` folder next to `wider_face_split/`, i.e.
      `<root>/WIDER_train/images` for `<root>/wider_face_split/wider_face_train_bbx_gt.txt`.

  Returns:
    One `WiderRecord` per image, in file order.
  """
  if not os.path.isfile(annotation_file):
    raise InputError("annotation_file", f"{annotation_file} does not exist")
  if images_dir is None:
    images_dir = default_images_dir(annotation_file)
  try:
    with open(annotation_file, encoding="utf-8") as f:
      lines = [ln.strip() for ln in f]
  except UnicodeDecodeError as e:
    raise InputError(annotation_file, f"is not a UTF-8 text file ({e})") from None
  while lines and not lines[-1]:
    lines.pop()
  records, seen = [], {}
  i = 0
  while i < len(lines):
    name = lines[i]
    if not name:
      i += 1
      continue
    if name in seen:
      raise InputError(at_line(annotation_file, i + 1), f"{name!r} is annotated twice "
                                                        f"(first at line {seen[name]})")
    seen[name] = i + 1
    count_text = lines[i + 1] if i + 1 < len(lines) else "end of file"
    if not count_text.isdigit():
      raise InputError(at_line(annotation_file, i + 2), f"expected the face count (an integer >= 0) "
                                                        f"of {name!r}, got {count_text!r}")
    count = int(count_text)
    rows = []
    for j in range(max(count, 1)):          # count 0 is followed by one all-zero line
      k = i + 2 + j
      if k >= len(lines):
        raise InputError(annotation_file, f"{name!r} (line {i + 1}) announces {count} face(s), "
                                          f"file ends early")
      rows.append(_face_row(lines[k], at_line(annotation_file, k + 1)))
    i += 2 + max(count, 1)
    rows = np.asarray(rows[:count], np.int64).reshape(count, 10)
    xywh = rows[:, :4].astype(np.float32)
    boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:] - 1], axis=1)
    records.append(WiderRecord(os.path.join(images_dir, name), name, boxes,
                               rows[:, 4:10].astype(np.int32)))
  if not records:
    raise InputError(annotation_file, "holds no image records (expected the WIDER FACE "
                                      "'name / count / x y w h ...' layout)")
  return records


def _face_row(text: str, where: str) -> list[int]:
  """`x y w h` and up to 6 attributes: non-negative integers (the published files' values)."""
  vals = text.split()
  if not 4 <= len(vals) <= 10:
    raise InputError(where, f"expected 'x y w h' and 6 attributes, got {text!r}")
  try:
    nums = [float(v) for v in vals]
  except ValueError:
    raise InputError(where, f"expected numbers, got {text!r}") from None
  if not all(np.isfinite(nums)) or any(v < 0 for v in nums[2:]) or any(v != int(v) for v in nums):
    raise InputError(where, f"expected finite integers with w, h and attributes >= 0, got {text!r}")
  return [int(v) for v in nums] + [0] * (10 - len(nums))


def default_images_dir(annotation_file: str) -> str:
  """`<root>/WIDER_<split>/images` for `<root>/wider_face_split/wider_face_<split>_bbx_gt.txt`."""
  base = os.path.basename(annotation_file)
  split = base.split("_")[2] if base.startswith("wider_face_") else "train"
  root = os.path.dirname(os.path.dirname(os.path.abspath(annotation_file)))
  return os.path.join(root, f"WIDER_{split}", "images")


def write_bbx_gt(path: str, records) -> None:
  """Writes (name, boxes xyxy, attributes or None) tuples in the WIDER FACE format."""
  with open(path, "w", encoding="utf-8") as f:
    for name, boxes, attrs in records:
      boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
      attrs = np.zeros((len(boxes), 6), np.int32) if attrs is None else np.asarray(attrs)
      f.write(f"{name}\n{len(boxes)}\n")
      if not len(boxes):
        f.write("0 0 0 0 0 0 0 0 0 0 \n")
      for b, a in zip(boxes, attrs):
        x, y = int(round(b[0])), int(round(b[1]))
        w, h = int(round(b[2] - b[0] + 1)), int(round(b[3] - b[1] + 1))
        f.write(" ".join(str(v) for v in [x, y, w, h, *a.tolist()]) + " \n")
