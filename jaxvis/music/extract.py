"""Information extraction from an image (paper section 4.1).

Method A (4.1.1): detections -> per-class weight `d(X) / d_max`, `d(X)` the summed
area (mask pixels, or box area when no mask) of class X.

Method B (4.1.2): caption content words, with
  * the dominant facial expression inserted before person words (b-3), and
  * every object's dominant colour (k-means, k = 3, on its pixels' RGB values ->
    nearest named colour by CIEDE2000, the name covering the largest share of
    the object) inserted before the caption word most similar to the object's
    label, if that similarity is >= 0.5 (b-2, b-3).

Detections JSON (`load_detections`): either a list or {"detections": [...]}, each
item {"label": str, "box": [x0, y0, x1, y1] (pixels), optional "score": float,
optional "mask": 2-D 0/1 list the size of the image or "mask_png": path
relative to the JSON file}.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxvis.errors import InputError
from jaxvis.music import seeding, vocab
from jaxvis.music.tables import check_number
from jaxvis.ops import cluster, color


@dataclasses.dataclass(frozen=True)
class Detection:
  """One detected object: a label, a pixel box (x0, y0, x1, y1), optionally a mask
  or COCO polygons (rasterised at the image's size when the region is needed)."""
  label: str
  box: tuple[float, float, float, float]
  score: float = 1.0
  mask: np.ndarray | None = None
  polygons: tuple[tuple[float, ...], ...] | None = None

  def area(self) -> float:
    if self.mask is not None:
      return float(np.count_nonzero(self.mask))
    if self.polygons:
      # Shoelace formula per polygon (COCO's parts do not overlap).
      return float(sum(abs(np.dot(p[0::2], np.roll(p[1::2], 1))
                           - np.dot(p[1::2], np.roll(p[0::2], 1))) / 2
                       for p in map(np.asarray, self.polygons)))
    x0, y0, x1, y1 = self.box
    return max(0.0, x1 - x0) * max(0.0, y1 - y0)

  def region(self, height: int, width: int) -> np.ndarray:
    """(H, W) bool mask of the object (the box when no mask was given)."""
    if self.mask is not None:
      if self.mask.shape != (height, width):
        raise InputError(f"detections: {self.label}", f"mask has shape {self.mask.shape}, "
                         f"expected the image size {(height, width)}")
      return self.mask.astype(bool)
    if self.polygons:
      from jaxvis.music.coco import polygons_to_mask
      return polygons_to_mask(self.polygons, height, width)
    m = np.zeros((height, width), bool)
    x0, y0, x1, y1 = (int(round(c)) for c in self.box)
    m[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)] = True
    return m


def load_detections(path: str, score_threshold: float = 0.0) -> list[Detection]:
  """Reads detections from a JSON file (format in the module docstring)."""
  from jaxvis.music.tables import open_text
  text = open_text(path, "detections JSON")
  try:
    data = json.loads(text)
  except json.JSONDecodeError as e:
    raise InputError(f"{path}:{e.lineno}", f"not valid JSON ({e.msg})") from None
  try:
    return parse_detections(data, os.path.dirname(path), score_threshold)
  except InputError as e:
    raise InputError(f"{path}: {e.where}", e.problem) from None


def parse_detections(data, base_dir: str = ".", score_threshold: float = 0.0
                     ) -> list[Detection]:
  """Detections from parsed JSON (a list or {"detections": [...]})."""
  items = data.get("detections") if isinstance(data, dict) else data
  if not isinstance(items, list):
    raise InputError("detections", 'expected a list of objects or {"detections": [...]}')
  out = []
  for i, d in enumerate(items):
    if not isinstance(d, dict) or "label" not in d or "box" not in d:
      raise InputError(f"detections[{i}]", "needs 'label' and 'box' [x0, y0, x1, y1]")
    box = d["box"]
    if (not isinstance(box, (list, tuple)) or len(box) != 4
        or not all(isinstance(c, (int, float)) and np.isfinite(c) for c in box)):
      raise InputError(f"detections[{i}].box", f"expected 4 finite numbers [x0, y0, x1, y1], "
                                               f"got {box!r}")
    if box[2] < box[0] or box[3] < box[1]:
      raise InputError(f"detections[{i}].box", f"expected x0 <= x1 and y0 <= y1, got {box!r}")
    mask = None
    if "mask" in d:
      mask = np.asarray(d["mask"], bool)
    elif "mask_png" in d:
      from jaxvis.data.images import load_image  # float: a 16-bit mask's 1s stay non-zero
      mask = load_image(os.path.join(base_dir, d["mask_png"]), dtype=np.float32)[..., 0] > 0
    score = check_number(d.get("score", 1.0), "score", f"detections[{i}]")
    if score >= score_threshold:
      out.append(Detection(str(d["label"]).strip().lower(), tuple(float(c) for c in box),
                           score, mask))
  return out


# ------------------------------------------------------------------ method A

def class_weights(detections: Sequence[Detection]) -> dict[str, float]:
  """Method A: `weight(X) = d(X) / d_max` with `d(X)` the summed area of class X."""
  areas: dict[str, float] = {}
  for d in detections:
    areas[d.label] = areas.get(d.label, 0.0) + d.area()
  d_max = max(areas.values(), default=0.0)
  if d_max <= 0:
    return {}
  return {label: a / d_max for label, a in areas.items() if a > 0}


@functools.partial(jax.jit, static_argnames=("num_classes",))
def class_area_weights(areas: jax.Array, class_ids: jax.Array, valid: jax.Array,
                       num_classes: int) -> jax.Array:
  """Batched method A on device: (..., N) object areas and class ids -> (..., C) weights."""
  onehot = jax.nn.one_hot(class_ids, num_classes) * (areas * valid)[..., None]
  d = onehot.sum(-2)
  return d / jnp.maximum(d.max(-1, keepdims=True), 1e-12)


# ------------------------------------------------------------------ colours

def region_pixels(image: np.ndarray, masks: np.ndarray, grid: int = 64
                  ) -> tuple[np.ndarray, np.ndarray]:
  """Samples an image and its region masks on a fixed `grid` x `grid` lattice.

  Nearest-pixel sampling at cell centres keeps each region's colour proportions
  and gives every image the same number of points (one k-means compilation).

  Returns:
    pixels (grid*grid, 3) float32 RGB in [0, 1] and weights (R, grid*grid).
  """
  h, w = image.shape[:2]
  ys = np.minimum(((np.arange(grid) + 0.5) * h / grid).astype(int), h - 1)
  xs = np.minimum(((np.arange(grid) + 0.5) * w / grid).astype(int), w - 1)
  img = _as_unit_rgb(image)[ys][:, xs]
  m = np.asarray(masks, bool)[:, ys][:, :, xs]
  return img.reshape(-1, 3), m.reshape(m.shape[0], -1).astype(np.float32)


def _as_unit_rgb(image) -> np.ndarray:
  image = np.asarray(image)
  if image.ndim != 3 or image.shape[-1] not in (3, 4):
    raise ValueError(f"image: expected (H, W, 3) RGB, got shape {image.shape}")
  image = image[..., :3]
  if image.dtype == np.uint8:
    return image.astype(np.float32) / 255.0
  image = image.astype(np.float32)
  if image.min() < 0 or image.max() > 1:
    raise ValueError("image: float images must lie in [0, 1] (or pass uint8)")
  return image


def dominant_colors(pixels, weights, seed: int = 0, k: int = 3, starts: int = 4,
                    max_iters: int = 50) -> tuple[jax.Array, jax.Array]:
  """k-means (k = 3) on each region's pixel RGB values, all regions at once.

  Args:
    pixels: (P, 3) RGB in [0, 1] shared by the regions, or (R, P, 3).
    weights: (R, P) pixel weights (0 outside a region); each region needs >= k pixels.
    seed: integer seed of the host-drawn k-means++ starts (`seeding`): the colours do
      not depend on JAX's PRNG settings.
    k: colours per region (the paper: 3).
    starts: k-means starts per region; the lowest inertia wins, so seeds agree.
    max_iters: Lloyd iterations; a batch runs until its slowest region stops, and
      colour quantisation is settled long before scikit-learn's 300.

  Returns:
    centres (R, k, 3) RGB and their pixel shares (R, k) (summing to 1).
  """
  weights = np.asarray(weights, np.float32)
  pixels = np.asarray(pixels, np.float32)
  if pixels.ndim == 2:
    pixels = np.broadcast_to(pixels, (weights.shape[0],) + pixels.shape)
  res = seeding.best_of_starts(pixels, weights, k, seed, starts, "euclidean", max_iters)
  sizes = cluster.cluster_sizes(res.labels, k, jnp.asarray(weights))
  return res.centers, sizes / jnp.maximum(sizes.sum(-1, keepdims=True), 1e-12)


def name_dominant_color(centres: np.ndarray, shares: np.ndarray, table: color.ColorTable
                        ) -> list[str]:
  """Per region: the colour name whose centres cover the largest share of its pixels."""
  lab = color.srgb_to_lab(jnp.asarray(centres))
  idx, _ = color.nearest_color(lab, table.lab)                     # (R, k)
  idx, shares = np.asarray(idx), np.asarray(shares)
  out = []
  for r in range(idx.shape[0]):
    total: dict[int, float] = {}
    for j, s in zip(idx[r], shares[r]):
      total[int(j)] = total.get(int(j), 0.0) + float(s)
    out.append(table.names[max(total, key=total.get)])
  return out


# ------------------------------------------------------------------ caption edits

def insert_expression(tokens: list[str], expression: str | None) -> list[str]:
  """Inserts the expression adjective before every person word (paper b-3)."""
  if not expression:
    return list(tokens)
  adj = vocab.EXPRESSION_ADJECTIVES.get(expression, expression)
  out = []
  for t in tokens:
    if t in vocab.PERSON_WORDS:
      out.append(adj)
    out.append(t)
  return out


def insert_colors(tokens: list[str], labelled_colors: Sequence[tuple[str, str]], wordvecs,
                  threshold: float = 0.5) -> tuple[list[str], list[dict]]:
  """Inserts each object's colour word before its most similar caption word.

  Args:
    tokens: caption tokens (after the expression step).
    labelled_colors: (object label, colour name) pairs.
    wordvecs: a `WordVectors`.
    threshold: minimum similarity (the paper: 0.5).

  Returns:
    the new token list (a colour name is one item, possibly of several words) and
    one record per object: label, colour, target word (None if below threshold), similarity.
  """
  content = [i for i, t in enumerate(tokens) if t not in vocab.STOPWORDS]
  records = []
  before: dict[int, list[str]] = {}
  if content and labelled_colors:
    labels = [lab for lab, _ in labelled_colors]
    lv, lfound = wordvecs.vectors_for(labels)
    tv, tfound = wordvecs.vectors_for([tokens[i] for i in content])
    sims = lv @ tv.T                                               # (objects, content words)
    sims = np.where(lfound[:, None] & tfound[None, :], sims, -np.inf)
    for o, (label, colour) in enumerate(labelled_colors):
      j = int(np.argmax(sims[o]))
      s = float(sims[o, j])
      target = content[j] if s >= threshold else None
      if target is not None:
        before.setdefault(target, []).append(colour)
      records.append({"label": label, "color": colour, "similarity": s if np.isfinite(s) else None,
                      "target": tokens[target] if target is not None else None})
  else:
    records = [{"label": lab, "color": c, "similarity": None, "target": None}
               for lab, c in labelled_colors]
  out = []
  for i, t in enumerate(tokens):
    out += before.get(i, [])
    out.append(t)
  return out, records
