"""Face crops after detection: margin crops at a size, 5-point alignment, face selection.

What users of facenet-pytorch / insightface do next with MTCNN's output, as pure,
jittable, batched functions over `Detections` (or any (B, F, 4) boxes and
(B, F, 5, 2) landmarks):

* `crop_faces`: each box grown by a margin (in output pixels, facenet-pytorch's
  rule: the box is widened so that `margin` pixels of the `size` crop are
  context), clipped to its image, resampled bilinearly to `size` x `size`.
* `align_faces`: the least-squares similarity (rotation, uniform scale,
  translation; no reflection) taking the 5 landmarks onto a template, applied
  by an inverse-mapped bilinear warp. Templates: ArcFace 112x112 and the
  96x112 variant (the same points 8 px to the left), scaled to other sizes.
* `select_faces`: one face per image: the largest box, the most probable,
  or the one nearest the image centre.
"""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from jaxvis.errors import InputError
from jaxvis.ops import image as image_ops

# The standard 5-point template (left eye, right eye, nose, left and right
# mouth corner; pixel centres at integers) of ArcFace-style recognisers, 112x112.
ARCFACE_112 = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                        [41.5493, 92.3655], [70.7299, 92.2041]], np.float32)
TEMPLATES = {
    "arcface112": (ARCFACE_112, (112, 112)),
    "arcface96x112": (ARCFACE_112 - np.array([8.0, 0.0], np.float32), (112, 96)),  # (h, w)
}
Selection = Literal["largest", "probable", "central"]


def template(name: str = "arcface112", size: int | None = None) -> tuple[np.ndarray, tuple[int, int]]:
  """(points (5, 2), (height, width)) of a template, scaled so its height is `size`."""
  if name not in TEMPLATES:
    raise InputError("template", f"expected one of {sorted(TEMPLATES)}, got {name!r}")
  points, (h, w) = TEMPLATES[name]
  if size is None or size == h:
    return points.copy(), (h, w)
  if size < 16:
    raise InputError("size", f"expected >= 16 pixels for an aligned face, got {size}")
  f = size / h
  # scale about the pixel-centre origin: a pixel centre c maps to (c + 0.5) * f - 0.5
  return ((points + 0.5) * f - 0.5).astype(np.float32), (size, int(round(w * f)))


def similarity(src: jax.Array, dst: jax.Array) -> jax.Array:
  """Least-squares similarity taking points `src` onto `dst`.

  Args:
    src, dst: (..., N, 2) (x, y) points, N >= 2.

  Returns:
    (..., 3, 3) matrices [[a, -b, tx], [b, a, ty], [0, 0, 1]] minimising
    sum |M src - dst|^2 (closed form: no reflection, uniform scale).
  """
  src = jnp.asarray(src, jnp.float32)
  dst = jnp.broadcast_to(jnp.asarray(dst, jnp.float32), src.shape)
  ps = src - src.mean(-2, keepdims=True)
  qs = dst - dst.mean(-2, keepdims=True)
  norm = jnp.maximum(jnp.sum(ps ** 2, axis=(-2, -1)), 1e-12)
  a = jnp.sum(ps * qs, axis=(-2, -1)) / norm
  b = jnp.sum(ps[..., 0] * qs[..., 1] - ps[..., 1] * qs[..., 0], axis=-1) / norm
  rot = jnp.stack([jnp.stack([a, -b], -1), jnp.stack([b, a], -1)], -2)          # (..., 2, 2)
  t = dst.mean(-2) - jnp.einsum("...ij,...j->...i", rot, src.mean(-2))
  top = jnp.concatenate([rot, t[..., None]], -1)                                 # (..., 2, 3)
  last = jnp.broadcast_to(jnp.array([0.0, 0.0, 1.0], jnp.float32), top.shape[:-2] + (1, 3))
  return jnp.concatenate([top, last], -2)


def align_faces(images: jax.Array, landmarks: jax.Array, template_name: str = "arcface112",
                size: int | None = None) -> jax.Array:
  """Warps each face so its 5 landmarks best match the template.

  Args:
    images: (B, H, W, C) float canvas (a face reads 0 beyond the canvas).
    landmarks: (B, F, 5, 2) (x, y) per face (e.g. `Detections.landmarks`).
    template_name: "arcface112" (112x112) or "arcface96x112" (112 high, 96 wide).
    size: output height (the template is scaled); default 112.

  Returns:
    (B, F, h, w, C) aligned faces.
  """
  points, (h, w) = template(template_name, size)
  if landmarks.ndim != 4 or landmarks.shape[-2:] != (5, 2) or landmarks.shape[0] != images.shape[0]:
    raise InputError("landmarks", f"expected (B={images.shape[0]}, F, 5, 2), got {landmarks.shape}")
  # template -> image: the inverse map the warp samples with (no matrix inversion)
  out_to_in = similarity(jnp.broadcast_to(jnp.asarray(points), landmarks.shape), landmarks)
  return image_ops.warp_perspective(images.astype(jnp.float32), out_to_in, (h, w))


def aligned_landmarks(landmarks: jax.Array, template_name: str = "arcface112",
                      size: int | None = None) -> jax.Array:
  """Where `align_faces` puts the landmarks: (B, F, 5, 2) in the aligned crop."""
  points, _ = template(template_name, size)
  in_to_out = similarity(landmarks, jnp.broadcast_to(jnp.asarray(points), landmarks.shape))
  return image_ops.apply_homography(in_to_out, landmarks)


def margin_boxes(boxes: jax.Array, sizes: jax.Array, size: int, margin: float) -> jax.Array:
  """Boxes grown so `margin` of the `size` output pixels are context, clipped to each image.

  Args:
    boxes: (B, F, 4) xyxy; sizes: (B, 2) valid (height, width) per image.
  """
  w = boxes[..., 2] - boxes[..., 0]
  h = boxes[..., 3] - boxes[..., 1]
  mx = margin * w / max(size - margin, 1e-6) / 2
  my = margin * h / max(size - margin, 1e-6) / 2
  grown = jnp.stack([boxes[..., 0] - mx, boxes[..., 1] - my, boxes[..., 2] + mx, boxes[..., 3] + my], -1)
  hw = sizes.astype(jnp.float32)[:, None, :]
  hi = jnp.stack([hw[..., 1], hw[..., 0], hw[..., 1], hw[..., 0]], -1) - 1
  return jnp.clip(grown, 0.0, hi)


def crop_faces(images: jax.Array, boxes: jax.Array, sizes: jax.Array | None = None, size: int = 160,
               margin: float = 0.0) -> jax.Array:
  """(B, F, size, size, C) crops of the boxes grown by `margin` output pixels."""
  if boxes.ndim != 3 or boxes.shape[-1] != 4 or boxes.shape[0] != images.shape[0]:
    raise InputError("boxes", f"expected (B={images.shape[0]}, F, 4), got {boxes.shape}")
  if size < 1 or not 0 <= margin < size:
    raise InputError("size, margin", f"expected size >= 1 and 0 <= margin < size, got {size}, {margin}")
  if sizes is None:
    sizes = jnp.tile(jnp.array([images.shape[1:3]], jnp.int32), (images.shape[0], 1))
  grown = margin_boxes(boxes.astype(jnp.float32), jnp.asarray(sizes), size, margin)
  return image_ops.crop_and_resize(images.astype(jnp.float32), grown, (size, size))


def select_faces(boxes: jax.Array, scores: jax.Array, valid: jax.Array, sizes: jax.Array,
                 how: Selection = "largest") -> tuple[jax.Array, jax.Array]:
  """One face per image: (index (B,), found (B,) bool).

  how: "largest" box area, "probable" highest score, "central" box centre
  nearest the image centre.
  """
  if how == "largest":
    key = (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])
  elif how == "probable":
    key = scores
  elif how == "central":
    centre = sizes.astype(jnp.float32)[:, None, ::-1] / 2            # (B, 1, 2) as (x, y)
    mid = (boxes[..., :2] + boxes[..., 2:]) / 2
    key = -jnp.sum((mid - centre) ** 2, -1)
  else:
    raise InputError("select", f"expected 'largest', 'probable' or 'central', got {how!r}")
  key = jnp.where(valid, key, -jnp.inf)
  return jnp.argmax(key, axis=-1), valid.any(axis=-1)


def extract(images: jax.Array, det, sizes: jax.Array | None = None, *, size: int | None = None,
            margin: float = 0.0, align: bool = False, template_name: str = "arcface112",
            select: Selection | None = None):
  """Face images from a `Detections` batch (pure, jittable with static options).

  Args:
    images: (B, H, W, 3) RGB in [0, 255], the canvas `det` was computed on.
    det: `Detections` (boxes, scores, landmarks, valid, ...).
    sizes: (B, 2) valid (height, width); default the canvas.
    size: crop side (default 160), or the aligned height (default 112).
    margin: context pixels of a crop (ignored when aligning).
    align: 5-point similarity alignment to `template_name` instead of a box crop.
    select: None (every face slot) or one face per image by "largest",
      "probable" or "central".

  Returns:
    (faces, valid): faces (B, F, h, w, 3) float32 and valid (B, F); with
    `select`, (B, h, w, 3) and (B,).
  """
  images = jnp.asarray(images)
  b = images.shape[0]
  if sizes is None:
    sizes = jnp.tile(jnp.array([images.shape[1:3]], jnp.int32), (b, 1))
  sizes = jnp.asarray(sizes)
  boxes, landmarks, valid = det.boxes, det.landmarks, det.valid
  if select is not None:
    idx, found = select_faces(boxes, det.scores, valid, sizes, select)
    take = lambda x: jnp.take_along_axis(x, idx.reshape((b, 1) + (1,) * (x.ndim - 2)), axis=1)
    boxes, landmarks, valid = take(boxes), take(landmarks), found[:, None]
  if align:
    faces = align_faces(images, landmarks, template_name, size)
  else:
    faces = crop_faces(images, boxes, sizes, 160 if size is None else size, margin)
  faces = jnp.where(valid[..., None, None, None], faces, 0.0)
  return (faces[:, 0], valid[:, 0]) if select is not None else (faces, valid)


def extract_faces(image: np.ndarray, faces, **options):
  """`extract` for one (H, W, 3) image and its `Face` list (host convenience for the CLI).

  Returns:
    (crops (n, h, w, 3) float32 numpy, valid (n,), index into `faces` of each crop).
  """
  from jaxvis.faces.cascade import Detections
  n = len(faces)
  slots = 1 << max(0, (n - 1).bit_length())            # power of two: few compiled shapes
  boxes = np.zeros((1, slots, 4), np.float32)
  marks = np.zeros((1, slots, 5, 2), np.float32)
  scores = np.zeros((1, slots), np.float32)
  valid = np.zeros((1, slots), bool)
  for k, f in enumerate(faces):
    boxes[0, k], marks[0, k], scores[0, k], valid[0, k] = f.box, f.landmarks, f.score, True
  det = Detections(boxes, scores, marks, valid, np.zeros(1, bool))
  select = options.pop("select", None)
  run = jax.jit(extract, static_argnames=("size", "margin", "align", "template_name", "select"))
  crops, ok = jax.device_get(run(np.asarray(image, np.float32)[None], det, select=select, **options))
  if select is not None:
    idx, _ = select_faces(jnp.asarray(boxes), jnp.asarray(scores), jnp.asarray(valid),
                          jnp.array([image.shape[:2]]), select)
    return crops, ok, [int(idx[0])]
  return crops[0, :n], ok[0, :n], list(range(n))
