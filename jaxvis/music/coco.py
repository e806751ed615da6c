"""Detections and captions in the COCO results formats, read without pycocotools.

Any detector or captioner that writes COCO results feeds the pipeline:

* detection results: a JSON list of `{"image_id", "category_id", "bbox": [x, y, w, h],
  "score", "segmentation"?}`, the segmentation a run-length encoding
  (`{"size": [h, w], "counts": "..."}`, compressed string or list of runs) or
  polygons (`[[x0, y0, x1, y1, ...], ...]`);
* categories: a COCO annotations file (`instances_val2017.json`, its `categories`
  and, when present, its `images` for file names and sizes) or a bare list of
  `{"id", "name"}`;
* caption results: a JSON list of `{"image_id", "caption"}`.

RLE counts run down the columns (Fortran order), alternating background and
foreground, starting with background; the compressed string stores each count
in 5-bit groups (offset by 48, bit 0x20 = more groups follow, bit 0x10 of the
last group = negative), and from the fourth count on, each is stored as its
difference to the count two places before.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re

import numpy as np

from jaxvis.errors import InputError
from jaxvis.music import tables
from jaxvis.music.extract import Detection


# ------------------------------------------------------------------ RLE

def rle_counts_from_string(s: str) -> list[int]:
  """Decodes COCO's compressed RLE string into run lengths."""
  counts: list[int] = []
  p = 0
  while p < len(s):
    x, k, more = 0, 0, True
    while more:
      if p >= len(s):
        raise InputError("counts", "RLE string ends inside a count")
      c = ord(s[p]) - 48
      if not 0 <= c < 64:
        raise InputError("counts", f"RLE string has an invalid character {s[p]!r}")
      x |= (c & 0x1F) << (5 * k)
      more = bool(c & 0x20)
      p += 1
      k += 1
      if not more and (c & 0x10):
        x -= 1 << (5 * k)                      # sign-extend the last group
    if len(counts) > 2:
      x += counts[-2]
    counts.append(x)
  return counts


def rle_counts_to_string(counts) -> str:
  """Encodes run lengths as COCO's compressed RLE string (inverse of the decoder)."""
  out = []
  for i, x in enumerate(int(c) for c in counts):
    if i > 2:
      x -= int(counts[i - 2])
    more = True
    while more:
      c = x & 0x1F
      x >>= 5
      more = (x != -1) if (c & 0x10) else (x != 0)
      out.append(chr(c + 48 + (0x20 if more else 0)))
  return "".join(out)


def decode_rle(rle: dict) -> np.ndarray:
  """`{"size": [h, w], "counts": str | list}` -> (h, w) bool mask."""
  try:
    h, w = (int(v) for v in rle["size"])
    counts = rle["counts"]
  except (KeyError, TypeError, ValueError):
    raise InputError("rle", 'expected {"size": [h, w], "counts": ...}') from None
  if isinstance(counts, bytes):
    counts = counts.decode("ascii")
  runs = rle_counts_from_string(counts) if isinstance(counts, str) else [int(c) for c in counts]
  if any(r < 0 for r in runs) or sum(runs) != h * w:
    raise InputError("counts", f"run lengths sum to {sum(runs)} (some negative: "
                     f"{any(r < 0 for r in runs)}), expected h * w = {h * w}")
  values = np.zeros(len(runs), bool)
  values[1::2] = True
  return np.repeat(values, runs).reshape(w, h).T


def encode_rle(mask: np.ndarray) -> dict:
  """(h, w) bool mask -> compressed COCO RLE (for writing results and for tests)."""
  m = np.asarray(mask, bool)
  flat = m.T.reshape(-1)
  change = np.flatnonzero(np.diff(flat.astype(np.int8))) + 1
  bounds = np.concatenate([[0], change, [flat.size]])
  runs = np.diff(bounds).tolist()
  if flat.size and flat[0]:
    runs = [0] + runs                           # runs start with background
  return {"size": [int(m.shape[0]), int(m.shape[1])], "counts": rle_counts_to_string(runs)}


def polygons_to_mask(polygons, height: int, width: int) -> np.ndarray:
  """COCO polygons `[[x0, y0, x1, y1, ...], ...]` -> (height, width) bool mask (filled)."""
  from PIL import Image, ImageDraw
  img = Image.new("1", (width, height), 0)
  draw = ImageDraw.Draw(img)
  for poly in polygons:
    xy = [float(v) for v in poly]
    if len(xy) < 6 or len(xy) % 2:
      raise InputError("segmentation", f"a polygon needs >= 3 (x, y) points, got {len(xy)} numbers")
    draw.polygon(list(zip(xy[0::2], xy[1::2])), fill=1, outline=1)
  return np.asarray(img, bool)


# ------------------------------------------------------------------ files

@dataclasses.dataclass(frozen=True)
class CocoImages:
  """What a COCO annotations file says about its images and categories."""
  categories: dict[int, str]
  file_names: dict[int, str]            # image_id -> file name ({} when not given)
  sizes: dict[int, tuple[int, int]]     # image_id -> (height, width)

  def image_id(self, path: str) -> int | None:
    """The id of an image file: by its file name, else the number in its stem (COCO's)."""
    name = os.path.basename(path)
    for i, fn in self.file_names.items():
      if fn == name:
        return i
    digits = re.fullmatch(r"\D*0*(\d+)", os.path.splitext(name)[0])
    return int(digits.group(1)) if digits else None


def _read_json(path: str, what: str):
  text = tables.open_text(path, what)
  try:
    return json.loads(text)
  except json.JSONDecodeError as e:
    raise InputError(f"{path}:{e.lineno}", f"not valid JSON ({e.msg})") from None


def load_categories(path: str) -> CocoImages:
  """Categories (and images, if listed) of a COCO annotations file or a bare category list."""
  data = _read_json(path, "COCO categories")
  cats = data.get("categories") if isinstance(data, dict) else data
  if not isinstance(cats, list) or not cats:
    raise InputError(path, 'expected COCO "categories": [{"id", "name"}, ...]')
  out = {}
  for i, c in enumerate(cats):
    if not isinstance(c, dict) or "id" not in c or "name" not in c:
      raise InputError(f"{path}: categories[{i}]", 'expected {"id": int, "name": str}')
    if int(c["id"]) in out:
      raise InputError(f"{path}: categories[{i}]", f"duplicate category id {c['id']}")
    out[int(c["id"])] = str(c["name"]).strip().lower()
  names, sizes = {}, {}
  for im in (data.get("images") or []) if isinstance(data, dict) else []:
    if isinstance(im, dict) and "id" in im:
      if "file_name" in im:
        names[int(im["id"])] = os.path.basename(str(im["file_name"]))
      if "height" in im and "width" in im:
        sizes[int(im["id"])] = (int(im["height"]), int(im["width"]))
  return CocoImages(out, names, sizes)


def load_detection_results(path: str, categories: CocoImages, score_threshold: float = 0.0
                           ) -> dict[int, list[Detection]]:
  """COCO detection results -> {image_id: [Detection]} (boxes xyxy, masks from RLE/polygons).

  Polygon masks need the image size: from the annotations' `images`, else they are
  rasterised when the image is processed (`Detection.polygons`).
  """
  data = _read_json(path, "COCO detection results")
  if not isinstance(data, list):
    raise InputError(path, "expected a JSON list of COCO detection results")
  out: dict[int, list[Detection]] = {}
  for i, d in enumerate(data):
    where = f"{path}: [{i}]"
    if not isinstance(d, dict) or not {"image_id", "category_id", "bbox"} <= set(d):
      raise InputError(where, 'expected {"image_id", "category_id", "bbox": [x, y, w, h], ...}')
    if int(d["category_id"]) not in categories.categories:
      raise InputError(where, f"category_id {d['category_id']} is not in the categories file")
    bbox = d["bbox"]
    if not isinstance(bbox, list) or len(bbox) != 4:
      raise InputError(where, f"bbox: expected [x, y, width, height], got {bbox!r}")
    x, y, w, h = (tables.check_number(v, "bbox", where) for v in bbox)
    if w < 0 or h < 0:
      raise InputError(where, f"bbox: negative width or height {bbox!r}")
    score = tables.check_number(d.get("score", 1.0), "score", where)
    if score < score_threshold:
      continue
    mask, polygons = None, None
    seg = d.get("segmentation")
    try:
      if isinstance(seg, dict):
        mask = decode_rle(seg)
      elif isinstance(seg, list) and seg:
        size = categories.sizes.get(int(d["image_id"]))
        if size:
          mask = polygons_to_mask(seg, *size)
        else:
          polygons = tuple(tuple(float(v) for v in p) for p in seg)
    except ValueError as e:
      raise InputError(f"{where}.segmentation", str(e)) from None
    out.setdefault(int(d["image_id"]), []).append(Detection(
        categories.categories[int(d["category_id"])], (x, y, x + w, y + h), score, mask,
        polygons))
  return out


def load_caption_results(path: str) -> dict[int, str]:
  """COCO caption results `[{"image_id", "caption"}]` -> {image_id: caption} (one each)."""
  data = _read_json(path, "COCO caption results")
  if not isinstance(data, list):
    raise InputError(path, "expected a JSON list of {\"image_id\", \"caption\"}")
  out: dict[int, str] = {}
  for i, d in enumerate(data):
    if not isinstance(d, dict) or "image_id" not in d or not isinstance(d.get("caption"), str):
      raise InputError(f"{path}: [{i}]", 'expected {"image_id": int, "caption": str}')
    if int(d["image_id"]) in out:
      raise InputError(f"{path}: [{i}]", f"second caption for image_id {d['image_id']}")
    out[int(d["image_id"])] = d["caption"]
  return out
