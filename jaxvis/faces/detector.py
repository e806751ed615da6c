"""`FaceDetector`: the jitted cascade for numpy / PIL images of any size and mode.

Images are converted to RGB (grayscale replicated, alpha dropped), padded into a
canvas whose sides are rounded up to `bucket` pixels (so a stream of different
sizes compiles a handful of programs, not one per size), and run in batches of
`batch_size` (the last batch padded). Each image's faces come out exactly as
if it had been run alone.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Iterable, NamedTuple, Sequence

import jax
import numpy as np

from jaxvis.faces import cascade, pyramid, weights


class Face(NamedTuple):
  """One detection: box (x1, y1, x2, y2), O-Net probability, 5 (x, y) landmarks."""
  box: tuple[float, float, float, float]
  score: float
  landmarks: tuple[tuple[float, float], ...]

  def to_json(self) -> dict:
    return {"box": [round(float(v), 2) for v in self.box], "score": round(float(self.score), 5),
            "landmarks": [[round(float(x), 2), round(float(y), 2)] for x, y in self.landmarks]}


def to_rgb_array(image: Any, name: str = "image") -> np.ndarray:
  """Converts a numpy array or PIL image to an (H, W, 3) float32 array in [0, 255].

  Accepts (H, W), (H, W, 1), (H, W, 3) and (H, W, 4) arrays (uint8, or float in
  [0, 255]; floats whose maximum is <= 1 are taken as [0, 1]) and PIL images of
  any mode. Channels-first arrays are refused with an explanation.
  """
  if hasattr(image, "convert") and hasattr(image, "mode"):  # PIL
    image = np.asarray(image.convert("RGB"))
  arr = np.asarray(image)
  if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
    raise ValueError(f"{name}: expected a numeric image array, got dtype {arr.dtype}")
  if arr.ndim == 3 and arr.shape[-1] not in (1, 3, 4) and arr.shape[0] in (1, 3, 4):
    raise ValueError(f"{name}: got shape {arr.shape}, which looks channels-first (C, H, W); "
                     f"expected channels-last (H, W, C): use np.moveaxis(image, 0, -1)")
  if arr.ndim == 2:
    arr = arr[..., None]
  if arr.ndim != 3 or arr.shape[-1] not in (1, 3, 4):
    raise ValueError(f"{name}: expected (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got shape {arr.shape}")
  arr = arr.astype(np.float32)
  if not np.isfinite(arr).all():
    raise ValueError(f"{name}: contains NaN or infinite values")
  if np.issubdtype(np.asarray(image).dtype, np.floating) and arr.size and arr.max() <= 1.0:
    arr = arr * 255.0
  if arr.shape[-1] == 1:
    arr = np.repeat(arr, 3, axis=-1)
  elif arr.shape[-1] == 4:
    arr = arr[..., :3]
  return np.clip(arr, 0.0, 255.0)


@dataclasses.dataclass
class FaceDetector:
  """MTCNN face detector with the `mtcnn` package's pretrained weights.

  Attributes:
    params: network parameters (default: `weights.load_pretrained()`).
    min_face_size, thresholds, scale_factor: as `cascade.detect`.
    batch_size: images per jitted call (the last batch is padded).
    bucket: canvas sides are rounded up to a multiple of this.
    canvas: optional fixed (height, width) canvas (e.g. for video frames);
      larger images are refused.
    options: further `CascadeConfig` fields (caps, NMS method, use_lnet).
  """
  params: Any = None
  min_face_size: float = 20.0
  thresholds: Sequence[float] = (0.6, 0.7, 0.7)
  scale_factor: float = 0.709
  batch_size: int = 8
  bucket: int = 64
  canvas: tuple[int, int] | None = None
  options: dict = dataclasses.field(default_factory=dict)

  def __post_init__(self):
    if self.params is None:
      self.params = weights.load_pretrained()
    if self.batch_size < 1 or self.bucket < 1:
      raise ValueError(f"batch_size, bucket: expected >= 1, got {self.batch_size}, {self.bucket}")
    cascade.CascadeConfig(min_face_size=float(self.min_face_size),
                          scale_factor=float(self.scale_factor), **self.options)  # validates

  def detect(self, images: Any) -> list[list[Face]] | list[Face]:
    """Faces of one image (returns list[Face]), or of a list / (N, H, W, C) array of
    images (returns a list of lists)."""
    if isinstance(images, np.ndarray) and images.ndim == 4:
      images = list(images)
    single = not isinstance(images, (list, tuple))
    items = [images] if single else list(images)
    arrays = [to_rgb_array(im, f"images[{i}]" if not single else "image") for i, im in enumerate(items)]
    results: list[list[Face]] = [[] for _ in arrays]
    todo = [i for i, a in enumerate(arrays) if self._detectable(a.shape[:2])]
    for start in range(0, len(todo), self.batch_size):
      chunk = todo[start:start + self.batch_size]
      for i, faces in zip(chunk, self._run([arrays[i] for i in chunk])):
        results[i] = faces
    return results[0] if single else results

  __call__ = detect

  def _detectable(self, hw) -> bool:
    """An image gives no face if even the first pyramid level is under 12 px."""
    return bool(pyramid.pyramid_scales(hw[0], hw[1], self.min_face_size, self.scale_factor))

  def _canvas_for(self, arrays) -> tuple[int, int]:
    h = max(a.shape[0] for a in arrays)
    w = max(a.shape[1] for a in arrays)
    if self.canvas is not None:
      ch, cw = self.canvas
      if h > ch or w > cw:
        raise ValueError(f"images: {h}x{w} does not fit the fixed canvas {ch}x{cw}")
      return int(ch), int(cw)
    b = self.bucket
    return int(math.ceil(h / b) * b), int(math.ceil(w / b) * b)

  def _run(self, arrays: list[np.ndarray]) -> list[list[Face]]:
    ch, cw = self._canvas_for(arrays)
    batch = np.zeros((self.batch_size, ch, cw, 3), np.float32)
    sizes = np.full((self.batch_size, 2), 1, np.int32)  # padded slots: a 1x1 image, no faces
    for j, a in enumerate(arrays):
      batch[j, :a.shape[0], :a.shape[1]] = a
      sizes[j] = a.shape[:2]
    det = cascade.detect(self.params, batch, sizes, self.min_face_size, tuple(self.thresholds),
                         self.scale_factor, **self.options)
    det = jax.device_get(det)
    return [detections_to_faces(det, j) for j in range(len(arrays))]


def detections_to_faces(det: cascade.Detections, index: int) -> list[Face]:
  """The valid faces of image `index` of a `Detections` batch, best first."""
  out = []
  for f in np.flatnonzero(np.asarray(det.valid[index])):
    box = tuple(float(v) for v in det.boxes[index, f])
    marks = tuple((float(x), float(y)) for x, y in det.landmarks[index, f])
    out.append(Face(box, float(det.scores[index, f]), marks))
  return out
