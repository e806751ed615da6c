"""XRAI (Kapishnikov et al. 2019): image segments ranked by the attribution density they add.

  segments(images)                            Felzenszwalb segments at six scales, dilated (host side)
  rank_segments(attr, masks, ...)             the greedy region ranking (jittable, batched)
  xrai_attribution(classifier, images, class_ids, ...)   both, on Integrated Gradients from the
                                              image's min and max as baselines

The definitions are Google PAIR's `saliency.core.XRAI` (read from its documentation and source,
re-implemented): the image is rescaled to [-1, 1] and resized to 224x224 (bicubic, anti-aliased);
scikit-image's `felzenszwalb` runs at scales 50, 100, 150, 250, 500, 1200 (sigma 0.8, min size
150); the label maps are resized back (nearest) and split into one mask per label, each dilated
by a disk of radius 5. The "full" ranking then repeatedly drops the masks that would add fewer
than `min_pixel_diff` new pixels and adds the one whose new pixels have the highest mean
attribution (max over channels of the IG averaged over the baselines); each pixel's value is the
gain of the step that added it, and pixels no mask reached get their own mean. "fast" ranks the
masks once by their whole-mask density and adds them in that order.

What differs from PAIR is the batching, not the values: the IG of every image and both
baselines runs as batched gradient calls (`attribution.integrated_gradients_attribution`), the
dilations are one batched convolution, and the greedy ranking evaluates every remaining mask at
once (two matrix-vector products per step) instead of a Python loop over masks; only
Felzenszwalb's segmentation itself stays on the host, image by image, as in PAIR.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxvis.errors import InputError
from jaxvis.saliency import attribution as attr_lib

FELZENSZWALB_SCALES = (50, 100, 150, 250, 500, 1200)
FELZENSZWALB_SIGMA = 0.8
FELZENSZWALB_MIN_SIZE = 150
SEGMENTATION_SIZE = (224, 224)
SEGMENTATION_RANGE = (-1.0, 1.0)
ALGORITHMS = ("full", "fast")


def _label_maps(image: np.ndarray, resize: bool = True) -> list[np.ndarray]:
  """One (H, W) int label map per Felzenszwalb scale."""
  from skimage import segmentation, transform
  im = np.asarray(image, np.float64)
  lo, hi = np.min(im), np.max(im)
  im = (im - lo) / (hi - lo) if hi > lo else np.zeros_like(im)
  im = im * (SEGMENTATION_RANGE[1] - SEGMENTATION_RANGE[0]) + SEGMENTATION_RANGE[0]
  shape = im.shape[:2]
  if resize:
    im = transform.resize(im, SEGMENTATION_SIZE, order=3, mode="constant", preserve_range=True, anti_aliasing=True)
  maps = []
  for scale in FELZENSZWALB_SCALES:
    seg = segmentation.felzenszwalb(im, scale=scale, sigma=FELZENSZWALB_SIGMA, min_size=FELZENSZWALB_MIN_SIZE)
    if resize:
      seg = transform.resize(seg, shape, order=0, preserve_range=True, mode="constant",
                             anti_aliasing=False).astype(int)
    maps.append(seg)
  return maps


def _disk(radius: int) -> np.ndarray:
  """scikit-image's `disk(radius)`: the integer points with x^2 + y^2 <= radius^2."""
  r = np.arange(-radius, radius + 1)
  return (r[:, None] ** 2 + r[None, :] ** 2 <= radius ** 2).astype(np.float32)


def _disk_rectangles(radius: int) -> tuple[tuple[int, int], ...]:
  """The disk as a union of centred rectangles (half-height, half-width): for each distinct row
  half-width w, the rows |dy| <= t whose half-width is at least w."""
  fp = _disk(radius)
  half = [int(np.sum(row) // 2) for row in fp[radius:]]      # half-width of rows dy = 0..radius
  return tuple((max(t for t in range(radius + 1) if half[t] >= w), w) for w in sorted(set(half)))


@functools.partial(jax.jit, static_argnames="radius")
def _dilate(masks: jax.Array, radius: int) -> jax.Array:
  """Binary dilation of (M, H, W) masks by `disk(radius)`, zeros outside the image (scikit-image's
  `dilation`, whose reflected border adds nothing for a symmetric footprint): the maximum of
  separable box maxima over the rectangles whose union is the disk."""
  x = masks.astype(jnp.float32)
  out = jnp.zeros_like(x)
  for t, w in _disk_rectangles(radius):
    box = jax.lax.reduce_window(x, 0.0, jax.lax.max, (1, 2 * t + 1, 1), (1, 1, 1), ((0, 0), (t, t), (0, 0)))
    box = jax.lax.reduce_window(box, 0.0, jax.lax.max, (1, 1, 2 * w + 1), (1, 1, 1), ((0, 0), (0, 0), (w, w)))
    out = jnp.maximum(out, box)
  return out > 0.5


def segments(images, resize: bool = True, dilation_radius: int = 5) -> tuple[np.ndarray, np.ndarray]:
  """XRAI's candidate regions of every image.

  Args:
    images: (N, H, W, C) (or one (H, W, C) image), any value range (each is rescaled).
    resize: segment at 224x224 (PAIR's default) instead of the image's own size.
    dilation_radius: grow every mask by a disk of this radius (0: no dilation).

  Returns:
    masks (N, M, H, W) bool, one per label of every scale (labels a resize dropped give empty
    masks, as in PAIR), padded with empty masks to the longest list; counts (N,) int32.
  """
  images = np.asarray(images)
  if images.ndim == 3:
    images = images[None]
  if images.ndim != 4:
    raise InputError("images", f"expected (N, H, W, C), got shape {images.shape}")
  per_image = []
  for im in images:
    per_image.append(np.concatenate([seg[None] == np.arange(seg.min(), seg.max() + 1)[:, None, None]
                                     for seg in _label_maps(im, resize)]))
  counts = np.asarray([len(m) for m in per_image], np.int32)
  masks = np.zeros((len(images), int(counts.max())) + images.shape[1:3], bool)
  for i, m in enumerate(per_image):
    masks[i, :len(m)] = m
  if dilation_radius:
    flat = masks.reshape((-1,) + masks.shape[2:])
    masks = np.asarray(_dilate(jnp.asarray(flat), int(dilation_radius))).reshape(masks.shape)
  return masks, counts


def rank_segments(attribution: jax.Array, masks: jax.Array, min_pixel_diff: int = 50,
                  algorithm: str = "full") -> jax.Array:
  """XRAI's region ranking: (N, H, W) pixel attributions and (N, M, H, W) candidate masks ->
  (N, H, W) map, each pixel the density gain of the region that added it (see the module doc).
  Jittable; images one after another (`lax.map`), so memory holds one image's masks as floats."""
  if algorithm not in ALGORITHMS:
    raise InputError("algorithm", f"expected one of {ALGORITHMS}, got {algorithm!r}")
  attribution = jnp.asarray(attribution, jnp.float32)
  masks = jnp.asarray(masks, bool)
  if attribution.ndim != 3 or masks.ndim != 4 or masks.shape[0] != attribution.shape[0] \
     or masks.shape[2:] != attribution.shape[1:]:
    raise InputError("masks", f"expected (N, M, H, W) masks for attributions {tuple(attribution.shape)}, "
                              f"got {tuple(masks.shape)}")
  one = _rank_full if algorithm == "full" else _rank_fast
  return jax.lax.map(lambda a: one(a[0], a[1], float(min_pixel_diff)), (attribution, masks))


_rank_jit = jax.jit(rank_segments, static_argnames=("min_pixel_diff", "algorithm"))


def _fill_rest(out: jax.Array, a: jax.Array) -> jax.Array:
  """Pixels no region reached (still -inf) get their own mean attribution."""
  rest = out == -jnp.inf
  mean = jnp.sum(jnp.where(rest, a, 0.0)) / jnp.maximum(jnp.sum(rest), 1)
  return jnp.where(rest, mean, out)


def _rank_full(a: jax.Array, masks: jax.Array, min_diff: float) -> jax.Array:
  h, w = a.shape
  m = masks.reshape(masks.shape[0], -1).astype(jnp.float32)        # (M, HW)
  av = a.reshape(-1)

  def body(state):
    current, alive, out, _ = state
    free = (~current).astype(jnp.float32)
    new_pixels = m @ free
    alive = alive & (new_pixels >= min_diff)
    gain = jnp.where(alive, (m @ (av * free)) / jnp.maximum(new_pixels, 1.0), -jnp.inf)
    best = jnp.argmax(gain)                                         # the first of equal gains, as PAIR
    go = jnp.any(alive)
    added = (m[best] > 0) & ~current & go
    out = jnp.where(added, gain[best], out)
    alive = alive.at[best].set(False)
    return current | added, alive, out, go

  init = (jnp.zeros(h * w, bool), jnp.ones(m.shape[0], bool), jnp.full(h * w, -jnp.inf), jnp.array(True))
  _, _, out, _ = jax.lax.while_loop(lambda s: s[3], body, init)
  return _fill_rest(out, av).reshape(h, w)


def _rank_fast(a: jax.Array, masks: jax.Array, min_diff: float) -> jax.Array:
  h, w = a.shape
  m = masks.reshape(masks.shape[0], -1)
  av = a.reshape(-1)
  size = jnp.sum(m, axis=1)
  density = jnp.where(size > 0, (m.astype(jnp.float32) @ av) / jnp.maximum(size, 1), -jnp.inf)
  order = jnp.argsort(-density, stable=True)

  def step(state, i):
    current, out = state
    added = m[i] & ~current
    count = jnp.sum(added)
    take = count >= min_diff
    gain = jnp.sum(jnp.where(added, av, 0.0)) / jnp.maximum(count, 1)
    out = jnp.where(added & take, gain, out)
    return (jnp.where(take, current | m[i], current), out), None

  (_, out), _ = jax.lax.scan(step, (jnp.zeros(h * w, bool), jnp.full(h * w, -jnp.inf)), order)
  return _fill_rest(out, av).reshape(h, w)


def xrai_attribution(classifier, images: jax.Array, class_ids: jax.Array, baselines: jax.Array | None = None,
                     num_steps: int = 100, masks: np.ndarray | None = None, min_pixel_diff: int = 50,
                     algorithm: str = "full", chunk_size: int | None = None,
                     return_ig: bool = False):
  """XRAI maps (N, H, W) float32 (the density gain of each pixel's region; higher = more salient).

  Args:
    classifier: images -> logits.
    images, class_ids: (N, H, W, C) and (N,).
    baselines: (B, N, H, W, C) IG baselines; default each image's min and max (PAIR's).
    num_steps: IG steps per baseline (PAIR's `linspace` rule, 100 by default as PAIR).
    masks: (N, M, H, W) candidate regions (`segments(images)` when None).
    min_pixel_diff, algorithm: see `rank_segments`.
    chunk_size: model inputs per gradient call (IG of all baselines and steps).
    return_ig: also return the (N, H, W, C) IG attribution averaged over the baselines.

  Not jittable as a whole: the segmentation runs on the host (scikit-image); the IG and the
  ranking are compiled programs.
  """
  images = jnp.asarray(images)
  class_ids = jnp.asarray(class_ids)
  attr_lib._check_batch(images, class_ids)
  if baselines is None:
    lo = jnp.min(images, axis=(1, 2, 3), keepdims=True)
    hi = jnp.max(images, axis=(1, 2, 3), keepdims=True)
    baselines = jnp.stack([jnp.broadcast_to(lo, images.shape), jnp.broadcast_to(hi, images.shape)])
  ig = attr_lib.integrated_gradients_attribution(classifier, images, class_ids, baselines, num_steps,
                                                 rule="linspace", chunk_size=chunk_size)
  if masks is None:
    masks, _ = segments(np.asarray(images))
  out = _rank_jit(jnp.max(ig, axis=-1), jnp.asarray(masks, bool), min_pixel_diff=int(min_pixel_diff),
                  algorithm=algorithm)
  return (out, ig) if return_ig else out

