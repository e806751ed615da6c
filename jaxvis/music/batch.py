"""A folder of images with their detections and captions, for batch runs.

Each image's inputs come from, in order: COCO results files (matched by image id:
the annotations' file names, else the number in the file stem, as COCO names
its files), or side files next to the image, `<stem>.json` (detections in the
`extract` format) and `<stem>.txt` (caption).

    for item in iter_inputs("photos/", coco_detections=..., coco_categories=..., coco_captions=...):
        item.path, item.image, item.detections, item.caption, item.error
"""

from __future__ import annotations

import glob
import os
from typing import Iterator, NamedTuple, Sequence

import numpy as np

from jaxvis.data.images import load_image
from jaxvis.errors import InputError
from jaxvis.music import coco, extract

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif")


class Item(NamedTuple):
  path: str
  image_id: int | None
  image: np.ndarray | None
  detections: list | None
  caption: str | None
  error: InputError | None


def image_paths(inputs: Sequence[str]) -> list[str]:
  """Image files named directly or found (sorted, not recursively) in the given folders."""
  out = []
  for p in inputs:
    if os.path.isdir(p):
      out += sorted(f for f in glob.glob(os.path.join(glob.escape(p), "*"))
                    if f.lower().endswith(IMAGE_EXTS))
    else:
      out.append(p)
  if not out:
    raise InputError(", ".join(inputs), f"no image files ({', '.join(IMAGE_EXTS)})")
  return out


def iter_inputs(inputs: Sequence[str], coco_detections: str | None = None,
                coco_categories: str | None = None, coco_captions: str | None = None,
                score_threshold: float = 0.0) -> Iterator[Item]:
  """Every image with its detections and caption; a bad image yields its error and the run goes on."""
  cats = dets = caps = None
  if coco_detections:
    if not coco_categories:
      raise InputError("coco_categories", "needed with COCO detection results (category names)")
    cats = coco.load_categories(coco_categories)
    dets = coco.load_detection_results(coco_detections, cats, score_threshold)
  elif coco_categories:
    cats = coco.load_categories(coco_categories)
  if coco_captions:
    caps = coco.load_caption_results(coco_captions)
  for path in image_paths(inputs):
    stem = os.path.splitext(path)[0]
    image_id = cats.image_id(path) if cats else coco.CocoImages({}, {}, {}).image_id(path)
    try:
      image = load_image(path)
      if dets is not None:
        d = dets.get(image_id, []) if image_id is not None else []
      elif os.path.isfile(stem + ".json"):
        d = extract.load_detections(stem + ".json", score_threshold)
      else:
        d = None
      if caps is not None:
        caption = caps.get(image_id) if image_id is not None else None
      elif os.path.isfile(stem + ".txt"):
        with open(stem + ".txt", encoding="utf-8") as f:
          caption = f.read().strip() or None
      else:
        caption = None
    except InputError as e:
      yield Item(path, image_id, None, None, None, e)
      continue
    yield Item(path, image_id, image, d, caption, None)
