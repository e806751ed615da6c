"""ImageNet (ILSVRC CLS-LOC) from its published folder layout, with the localisation XML boxes.

    <root>/LOC_synset_mapping.txt                         "n01440764 tench, Tinca tinca" (class order)
    <root>/Data/CLS-LOC/train/<wnid>/<wnid>_<k>.JPEG
    <root>/Data/CLS-LOC/val/ILSVRC2012_val_<8 digits>.JPEG
    <root>/Annotations/CLS-LOC/val/ILSVRC2012_val_<8 digits>.xml   (PASCAL VOC: size, object/name, bndbox)

Without LOC_synset_mapping.txt the class order is the sorted train folder names (the order of
every ImageNet classifier). Images are resized to a square input disregarding aspect ratio, and
boxes are scaled with them (the same resize the saliency metric applies to crops).
"""

from __future__ import annotations

import glob
import os
import xml.etree.ElementTree as ET

import numpy as np

from jaxvis.data.images import resized_rgb
from jaxvis.errors import InputError
from PIL import Image


def read_synsets(root: str) -> list[str]:
  mapping = os.path.join(root, "LOC_synset_mapping.txt")
  if os.path.exists(mapping):
    with open(mapping) as f:
      return [line.split()[0] for line in f if line.strip()]
  train = os.path.join(root, "Data", "CLS-LOC", "train")
  if not os.path.isdir(train):
    raise InputError("root", f"{root} has neither LOC_synset_mapping.txt nor Data/CLS-LOC/train")
  return sorted(d for d in os.listdir(train) if os.path.isdir(os.path.join(train, d)))


def parse_annotation(path: str) -> tuple[tuple[int, int], list[str], np.ndarray]:
  """A VOC-style ILSVRC XML -> ((width, height), object wnids, boxes (K, 4) x1, y1, x2, y2)."""
  try:
    tree = ET.parse(path).getroot()
  except ET.ParseError as e:
    raise InputError(path, f"is not valid XML ({e})") from None
  except OSError as e:
    raise InputError(path, f"cannot be read ({e.strerror})") from None
  size = tree.find("size")
  if size is None:
    raise InputError(path, "has no <size>")
  try:
    wh = (int(size.findtext("width")), int(size.findtext("height")))
    names, boxes = [], []
    for obj in tree.findall("object"):
      bb = obj.find("bndbox")
      names.append(obj.findtext("name"))
      boxes.append([float(bb.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")])
  except (TypeError, ValueError, AttributeError):
    raise InputError(path, "expected numeric <size> width/height and <bndbox> xmin/ymin/xmax/ymax "
                           "in every <object>") from None
  boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
  if wh[0] <= 0 or wh[1] <= 0 or not np.isfinite(boxes).all() or \
     (boxes.size and ((boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])).any()):
    raise InputError(path, f"bad geometry: size {wh}, boxes must be finite with xmax >= xmin, ymax >= ymin")
  return wh, names, boxes


def _load_image(path: str, size: int) -> np.ndarray:
  return resized_rgb(path, size)


def load_train(root: str, size: int = 224, per_class: int | None = None, classes: list[str] | None = None):
  """Training images (N, size, size, 3) uint8 and labels (N,) int32 from the class folders, all in
  memory (small subsets; `TrainSource` streams them)."""
  paths, labels = train_files(root, per_class, classes)
  return np.stack([_load_image(p, size) for p in paths]), labels


def train_files(root: str, per_class: int | None = None, classes: list[str] | None = None
                ) -> tuple[list[str], np.ndarray]:
  """(paths, labels) of the training JPEGs, class by class: a listing, no pixels read."""
  synsets = classes or read_synsets(root)
  paths, labels = [], []
  for label, wnid in enumerate(synsets):
    files = sorted(glob.glob(os.path.join(root, "Data", "CLS-LOC", "train", wnid, "*.JPEG")))[:per_class]
    paths += files
    labels += [label] * len(files)
  if not paths:
    raise InputError("root", f"no training JPEGs under {root}/Data/CLS-LOC/train/<wnid>/")
  return paths, np.asarray(labels, np.int32)


class TrainSource:
  """Random-access training records `{"image": (size, size, 3), "label": int32}` decoded on
  access, for `jaxvis.data.loader` (grain): memory holds the file list and the batches in flight,
  not the dataset, so it does not grow with the number of images.

  `preprocess` None gives uint8 pixels; "caffe" / "torch" gives float32 inputs of a ResNet
  (`resnet.preprocess_numpy`, numpy only), so decoding AND preprocessing can run in grain worker
  processes (`loader(..., worker_count=N)`), which pickle the source and must not run JAX.
  """

  def __init__(self, root: str, size: int = 224, per_class: int | None = None,
               classes: list[str] | None = None, preprocess: str | None = None):
    if preprocess not in (None, "caffe", "torch"):
      raise InputError("preprocess", f"expected None, 'caffe' or 'torch', got {preprocess!r}")
    self.paths, self.labels = train_files(root, per_class, classes)
    self.size = int(size)
    self.preprocess = preprocess

  def __len__(self) -> int:
    return len(self.paths)

  def __getitem__(self, index: int) -> dict:
    image = _load_image(self.paths[index], self.size)
    if self.preprocess is not None:
      from jaxvis.nn import resnet
      image = resnet.preprocess_numpy(image, self.preprocess)
    return {"image": image, "label": self.labels[index]}


def load_val(root: str, size: int = 224, limit: int | None = None, classes: list[str] | None = None,
             max_boxes: int = 8):
  """Validation images with their class and localisation boxes.

  Returns:
    images (N, size, size, 3) uint8, labels (N,) int32, boxes (N, max_boxes, 4) float32 in the
    resized image's inclusive pixel coordinates, valid (N, max_boxes) bool.
  """
  synsets = classes or read_synsets(root)
  index = {w: i for i, w in enumerate(synsets)}
  xmls = sorted(glob.glob(os.path.join(root, "Annotations", "CLS-LOC", "val", "*.xml")))[:limit]
  if not xmls:
    raise FileNotFoundError(f"root: no XML boxes under {root}/Annotations/CLS-LOC/val/")
  images, labels = [], []
  boxes = np.zeros((len(xmls), max_boxes, 4), np.float32)
  valid = np.zeros((len(xmls), max_boxes), bool)
  for i, xml in enumerate(xmls):
    (w, h), names, b = parse_annotation(xml)
    stem = os.path.splitext(os.path.basename(xml))[0]
    images.append(_load_image(os.path.join(root, "Data", "CLS-LOC", "val", stem + ".JPEG"), size))
    if not names or names[0] not in index:
      raise InputError("annotation", f"{xml}: class {names[:1]} is not in the synset list")
    labels.append(index[names[0]])
    k = min(len(b), max_boxes)
    sx, sy = size / w, size / h
    # ILSVRC pixel boxes are inclusive; scale the covered extent, then back to inclusive indices.
    boxes[i, :k] = np.stack([b[:k, 0] * sx, b[:k, 1] * sy, (b[:k, 2] + 1) * sx - 1, (b[:k, 3] + 1) * sy - 1], 1)
    valid[i, :k] = True
  return np.stack(images), np.asarray(labels, np.int32), np.clip(boxes, 0, size - 1), valid


def write_fixture(root: str, synsets: list[str], train_per_class: int = 4, num_val: int = 6,
                  image_size: tuple[int, int] = (80, 60), seed: int = 0) -> None:
  """A tiny ILSVRC tree in the published layout (JPEGs + VOC XML + LOC_synset_mapping.txt).

  Each class is a coloured square of a class-specific colour on a noisy background; the val XML
  box is the square.
  """
  rng = np.random.default_rng(seed)
  w, h = image_size
  with open(os.path.join(_mk(root), "LOC_synset_mapping.txt"), "w") as f:
    for i, wnid in enumerate(synsets):
      f.write(f"{wnid} class number {i}\n")

  def draw(k):
    img = rng.integers(0, 90, (h, w, 3)).astype(np.uint8)
    s = int(rng.integers(min(w, h) // 3, min(w, h) // 2))
    x, y = int(rng.integers(0, w - s)), int(rng.integers(0, h - s))
    img[y:y + s, x:x + s] = [(k * 90 + 60) % 256, (k * 150 + 30) % 256, 220 - 40 * (k % 5)]
    return img, (x, y, x + s - 1, y + s - 1)

  for k, wnid in enumerate(synsets):
    d = _mk(os.path.join(root, "Data", "CLS-LOC", "train", wnid))
    for j in range(train_per_class):
      Image.fromarray(draw(k)[0]).save(os.path.join(d, f"{wnid}_{j}.JPEG"), format="JPEG", quality=95)
  vd = _mk(os.path.join(root, "Data", "CLS-LOC", "val"))
  ad = _mk(os.path.join(root, "Annotations", "CLS-LOC", "val"))
  for i in range(num_val):
    k = i % len(synsets)
    img, (x1, y1, x2, y2) = draw(k)
    stem = f"ILSVRC2012_val_{i + 1:08d}"
    Image.fromarray(img).save(os.path.join(vd, stem + ".JPEG"), format="JPEG", quality=95)
    with open(os.path.join(ad, stem + ".xml"), "w") as f:
      f.write(f"<annotation><folder>val</folder><filename>{stem}</filename>"
              f"<source><database>ILSVRC_2012</database></source>"
              f"<size><width>{w}</width><height>{h}</height><depth>3</depth></size><segmented>0</segmented>"
              f"<object><name>{synsets[k]}</name><pose>Unspecified</pose><truncated>0</truncated>"
              f"<difficult>0</difficult><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax>"
              f"<ymax>{y2}</ymax></bndbox></object></annotation>")


def _mk(path: str) -> str:
  os.makedirs(path, exist_ok=True)
  return path
