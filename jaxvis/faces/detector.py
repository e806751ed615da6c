"""`FaceDetector`: the jitted cascade for numpy / PIL images of any size and mode.

Images are converted by the shared rules (`jaxvis.data.images.as_rgb_array`:
grayscale replicated, alpha composited over white, 16-bit and float scaled),
padded into a canvas whose sides are rounded up to `bucket` pixels, and run in
batches of at most `batch_size`, each padded only to the next power of two (so
one image costs one image, and a stream compiles a handful of programs). Each
image's faces come out exactly as if it had been run alone; an image that
fills a candidate cap is re-run with larger caps (`cascade.detect`).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any, NamedTuple, Sequence

import jax
import numpy as np

from jaxvis.data.images import as_rgb_array
from jaxvis.errors import InputError
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
  """An array or PIL image -> (H, W, 3) float32 in [0, 255] (`jaxvis.data.images.as_rgb_array`)."""
  return as_rgb_array(image, name, dtype=np.float32)


def _as_rgb(image: Any, name: str) -> np.ndarray:
  """uint8 (H, W, 3) RGB arrays as they are; anything else by the shared rules (float32)."""
  if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[-1] == 3:
    return image
  return to_rgb_array(image, name)


@dataclasses.dataclass
class FaceDetector:
  """MTCNN face detector with the `mtcnn` package's pretrained weights.

  Attributes:
    params: network parameters (default: `weights.load_pretrained()`).
    min_face_size, thresholds, scale_factor: as `cascade.detect`.
    batch_size: most images per jitted call; a call is padded only to the next
      power of two (1, 2, 4, ...), capped at batch_size.
    bucket: canvas sides are rounded up to a multiple of this.
    canvas: optional fixed (height, width) canvas (e.g. for video frames);
      larger images are refused.
    max_faces_limit: the most faces one image may return (`cascade.detect`
      re-runs crowded images with larger caps up to this); an image still
      capped there warns, and `detect_with_overflow` reports it.
    options: further `CascadeConfig` fields (caps, NMS method, use_lnet).
  """
  params: Any = None
  min_face_size: float = 20.0
  thresholds: Sequence[float] = (0.6, 0.7, 0.7)
  scale_factor: float = 0.709
  batch_size: int = 8
  bucket: int = 64
  canvas: tuple[int, int] | None = None
  max_faces_limit: int = 4096
  options: dict = dataclasses.field(default_factory=dict)

  def __post_init__(self):
    if self.params is None:
      self.params = weights.load_pretrained()
    if self.batch_size < 1 or self.bucket < 1:
      raise InputError("batch_size, bucket", f"expected >= 1, got {self.batch_size}, {self.bucket}")
    cfg = cascade.CascadeConfig(min_face_size=float(self.min_face_size),
                                scale_factor=float(self.scale_factor), **self.options)  # validates
    if self.max_faces_limit < cfg.max_faces:
      raise InputError("max_faces_limit", f"expected >= max_faces ({cfg.max_faces}), got {self.max_faces_limit}")

  def detect(self, images: Any) -> list[list[Face]] | list[Face]:
    """Faces of one image (returns list[Face]), or of a list / (N, H, W, C) array of
    images (returns a list of lists)."""
    faces, overflow = self.detect_with_overflow(images)
    flagged = [i for i, o in enumerate(overflow if isinstance(overflow, list) else [overflow]) if o]
    if flagged:
      warnings.warn(f"images {flagged}: more faces than max_faces_limit={self.max_faces_limit}; "
                    f"the best {self.max_faces_limit} are returned (raise max_faces_limit)", stacklevel=2)
    return faces

  __call__ = detect

  def detect_with_overflow(self, images: Any):
    """`detect`, plus whether each image still hit a cap at `max_faces_limit`
    (a bool, or a list of bools for a list of images)."""
    if isinstance(images, np.ndarray) and images.ndim == 4:
      images = list(images)
    single = not isinstance(images, (list, tuple))
    items = [images] if single else list(images)
    arrays = [_as_rgb(im, f"images[{i}]" if not single else "image") for i, im in enumerate(items)]
    results: list[list[Face]] = [[] for _ in arrays]
    overflow = [False] * len(arrays)
    todo = [i for i, a in enumerate(arrays) if self._detectable(a.shape[:2])]
    for start in range(0, len(todo), self.batch_size):
      chunk = todo[start:start + self.batch_size]
      for i, (faces, over) in zip(chunk, self._run([arrays[i] for i in chunk])):
        results[i], overflow[i] = faces, over
    return (results[0], overflow[0]) if single else (results, overflow)

  def _detectable(self, hw) -> bool:
    """An image gives no face if even the first pyramid level is under 12 px."""
    return bool(pyramid.pyramid_scales(hw[0], hw[1], self.min_face_size, self.scale_factor))

  def _canvas_for(self, arrays) -> tuple[int, int]:
    h = max(a.shape[0] for a in arrays)
    w = max(a.shape[1] for a in arrays)
    if self.canvas is not None:
      ch, cw = self.canvas
      if h > ch or w > cw:
        raise InputError("images", f"{h}x{w} does not fit the fixed canvas {ch}x{cw}")
      return int(ch), int(cw)
    b = self.bucket
    return int(math.ceil(h / b) * b), int(math.ceil(w / b) * b)

  def _run(self, arrays: list[np.ndarray]) -> list[tuple[list[Face], bool]]:
    ch, cw = self._canvas_for(arrays)
    n = padded_batch(len(arrays), self.batch_size)
    # 8-bit images stay 8-bit up to the device (a 4000x3000 float32 copy is 145 MB)
    dtype = np.uint8 if all(a.dtype == np.uint8 for a in arrays) else np.float32
    batch = np.zeros((n, ch, cw, 3), dtype)
    sizes = np.full((n, 2), 1, np.int32)  # padded slots: a 1x1 image, no faces
    for j, a in enumerate(arrays):
      batch[j, :a.shape[0], :a.shape[1]] = a
      sizes[j] = a.shape[:2]
    det = cascade.detect(self.params, batch, sizes, self.min_face_size, tuple(self.thresholds),
                         self.scale_factor, max_faces_limit=self.max_faces_limit, **self.options)
    det = jax.device_get(det)
    return [(detections_to_faces(det, j), bool(det.overflow[j])) for j in range(len(arrays))]


def padded_batch(n: int, batch_size: int) -> int:
  """The batch a call of n images is padded to: the next power of two, at most batch_size."""
  return min(batch_size, 1 << max(0, math.ceil(math.log2(max(n, 1)))))


def detections_to_faces(det: cascade.Detections, index: int) -> list[Face]:
  """The valid faces of image `index` of a `Detections` batch, best first."""
  out = []
  for f in np.flatnonzero(np.asarray(det.valid[index])):
    box = tuple(float(v) for v in det.boxes[index, f])
    marks = tuple((float(x), float(y)) for x, y in det.landmarks[index, f])
    out.append(Face(box, float(det.scores[index, f]), marks))
  return out
