"""The saliency methods the paper compares against, batched and jittable.

Each returns (N, H, W) float32 maps in [0, 1] (1 = salient) for `class_ids`, so the same
metrics (threshold 0.5, tightest box) score them all:

  gradient(classifier, images, class_ids)                 Simonyan et al. |d f_c / d x|
  smoothgrad(classifier, images, class_ids, rng)          aggregated gradients of noisy copies
  integrated_gradients(classifier, images, class_ids)     path integral from a black baseline
  blur_ig(classifier, images, class_ids)                  Integrated Gradients along a blur path
  occlusion(classifier, images, class_ids)                logit drop under a sliding window
  xrai(classifier, images, class_ids)                     segments ranked by IG density (host-side
                                                          segmentation: not jittable)
  grad_cam(features_fn, head_fn, images, class_ids)       Selvaraju et al. on the last conv map
  iterative_mask(classifier, images, class_ids, rng)      per-image gradient descent on a mask
                                                          through the saliency objective (the
                                                          paper's "Mask" column, Fong & Vedaldi)

`classifier` is any `images -> logits` function. Gradient-type maps are normalised per image by
their maximum, the usual way to threshold them; the raw (N, H, W, C) attributions they reduce
come from `attribution.py` and `xrai.py` (PAIR-compatible options, samples batched).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxvis.errors import InputError
from jaxvis.saliency import attribution as attr
from jaxvis.saliency import objective as obj_lib
from jaxvis.saliency import xrai as xrai_lib

Classifier = Callable[[jax.Array], jax.Array]


def _normalise(maps: jax.Array) -> jax.Array:
  """Per-image scaling to [0, 1] by the maximum (all-zero maps stay zero)."""
  peak = jnp.max(maps, axis=(1, 2), keepdims=True)
  return jnp.where(peak > 0, maps / jnp.where(peak > 0, peak, 1.0), 0.0)


CHANNEL_REDUCTIONS = ("max_abs", "sum_abs")
GRAD_CAM_NORMALISATIONS = ("after_resize", "before_resize", "none")
RESIZE_BORDERS = ("clamp", "mirror")


def _mirror_bilinear_matrix(n_in: int, n_out: int) -> np.ndarray:
  """(n_out, n_in) bilinear interpolation, pixel centres aligned, samples past the edge mirrored
  about the edge pixel (scikit-image `resize(order=1)`, which PAIR's Grad-CAM uses)."""
  src = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
  lo = np.floor(src).astype(int)
  t = src - lo
  period = max(2 * n_in - 2, 1)
  def mirror(i):
    i = np.mod(i, period)
    return np.where(i >= n_in, period - i, i)
  m = np.zeros((n_out, n_in), np.float32)
  np.add.at(m, (np.arange(n_out), mirror(lo)), 1 - t)
  np.add.at(m, (np.arange(n_out), mirror(lo + 1)), t)
  return m


def _resize_maps(maps: jax.Array, size: tuple[int, int], border: str) -> jax.Array:
  if border == "clamp":
    return jax.image.resize(maps, (maps.shape[0],) + tuple(size), method="bilinear")
  ry = _mirror_bilinear_matrix(maps.shape[1], size[0])
  rx = _mirror_bilinear_matrix(maps.shape[2], size[1])
  return jnp.einsum("yi,nij,xj->nyx", ry, maps, rx)


def reduce_channels(attribution: jax.Array, how: str) -> jax.Array:
  """(N, H, W, C) -> (N, H, W): max or sum of |attribution| over the channels (PAIR's
  `VisualizeImageGrayscale` sums |.|)."""
  if how not in CHANNEL_REDUCTIONS:
    raise InputError("channels", f"expected one of {CHANNEL_REDUCTIONS}, got {how!r}")
  a = jnp.abs(attribution)
  return jnp.max(a, axis=-1) if how == "max_abs" else jnp.sum(a, axis=-1)


def gradient(classifier: Classifier, images: jax.Array, class_ids: jax.Array,
             channels: str = "max_abs") -> jax.Array:
  """Vanilla gradient: max (or sum) over channels of |d logit_c / d x|."""
  return _normalise(reduce_channels(attr.input_gradients(classifier, images, class_ids), channels))


def smoothgrad(classifier: Classifier, images: jax.Array, class_ids: jax.Array, rng: jax.Array,
               num_samples: int = 16, noise_level: float = 0.15, aggregation: str = "mean_square",
               channels: str = "sum_abs", chunk_size: int | None = None) -> jax.Array:
  """SmoothGrad map: `attribution.smoothgrad_attribution` (default PAIR's mean g^2; "mean",
  "mean_abs" selectable) reduced over channels. The samples of all images run as batched
  gradient calls of at most `chunk_size` model inputs (see `attribution` for the defaults)."""
  a = attr.smoothgrad_attribution(classifier, images, class_ids, rng, num_samples, noise_level,
                                  aggregation, chunk_size)
  return _normalise(reduce_channels(a, channels))


def integrated_gradients(classifier: Classifier, images: jax.Array, class_ids: jax.Array,
                         baseline: jax.Array | None = None, num_steps: int = 32, rule: str = "midpoint",
                         channels: str = "sum_abs", chunk_size: int | None = None) -> jax.Array:
  """Integrated Gradients map from `baseline` (default: zeros): |attribution| summed over channels.
  `rule="linspace"` is PAIR's (both endpoints, divided by the step count); path points batched as
  in `smoothgrad`."""
  a = attr.integrated_gradients_attribution(classifier, images, class_ids, baseline, num_steps, rule,
                                            chunk_size)
  return _normalise(reduce_channels(a, channels))


def blur_ig(classifier: Classifier, images: jax.Array, class_ids: jax.Array, max_sigma: float = 50.0,
            num_steps: int = 100, grad_step: float = 0.01, sqrt: bool = False, channels: str = "sum_abs",
            chunk_size: int | None = None) -> jax.Array:
  """Blur IG map (`attribution.blur_ig_attribution`, PAIR's `BlurIG`): |attribution| over channels."""
  a = attr.blur_ig_attribution(classifier, images, class_ids, max_sigma, num_steps, grad_step, sqrt, chunk_size)
  return _normalise(reduce_channels(a, channels))


def occlusion(classifier: Classifier, images: jax.Array, class_ids: jax.Array, size: int = 15,
              value: float = 0.0, stride: int = 1, chunk_size: int | None = None) -> jax.Array:
  """Occlusion map (`attribution.occlusion_attribution`, PAIR's `Occlusion`): the summed logit
  drop of the windows covering each pixel, negative drops (occlusion raised the logit) at 0."""
  a = attr.occlusion_attribution(classifier, images, class_ids, size, value, stride, chunk_size)
  return _normalise(jnp.maximum(a[..., 0], 0.0))


def xrai(classifier: Classifier, images: jax.Array, class_ids: jax.Array, num_steps: int = 100,
         algorithm: str = "full", chunk_size: int | None = None) -> jax.Array:
  """XRAI map (`xrai.xrai_attribution`, PAIR's `XRAI`): each pixel's region gain, negative at 0.
  Runs Felzenszwalb's segmentation on the host: call it outside `jax.jit`."""
  a = xrai_lib.xrai_attribution(classifier, images, class_ids, num_steps=num_steps, algorithm=algorithm,
                                chunk_size=chunk_size)
  return _normalise(jnp.maximum(a, 0.0))


def grad_cam(features_fn: Callable[[jax.Array], jax.Array], head_fn: Callable[[jax.Array], jax.Array],
             images: jax.Array, class_ids: jax.Array, normalisation: str = "after_resize",
             resize: bool = True, border: str = "clamp") -> jax.Array:
  """Grad-CAM: ReLU(sum_k alpha_k A_k), alpha_k = spatial mean of d logit_c / d A_k, bilinearly
  resized to the image.

  Args:
    features_fn: images -> the last conv map (N, h, w, K).
    head_fn: that map -> logits.
    normalisation: divide by the per-image maximum "after_resize" (default), "before_resize"
      (PAIR's `GradCam`), or "none" (the raw ReLU map).
    resize: False returns the (N, h, w) map at the feature resolution.
    border: where bilinear up-sampling reads past the map's edge: "clamp" (jax.image.resize) or
      "mirror" (scikit-image, as PAIR). With a 4x4 map the two differ by up to 0.2 at the border.
  """
  if normalisation not in GRAD_CAM_NORMALISATIONS:
    raise InputError("normalisation", f"expected one of {GRAD_CAM_NORMALISATIONS}, got {normalisation!r}")
  if border not in RESIZE_BORDERS:
    raise InputError("border", f"expected one of {RESIZE_BORDERS}, got {border!r}")
  fmap = features_fn(images).astype(jnp.float32)

  def total(a):
    logits = head_fn(a).astype(jnp.float32)
    return jnp.sum(jnp.take_along_axis(logits, class_ids[:, None], axis=1))

  return grad_cam_from(fmap, jax.grad(total)(fmap), images.shape[1:3], normalisation, resize, border)


def grad_cam_from(fmap: jax.Array, grads: jax.Array, image_size, normalisation: str = "after_resize",
                  resize: bool = True, border: str = "clamp") -> jax.Array:
  """Grad-CAM from a map (N, h, w, K) and d logit_c / d map (see `grad_cam` for the options)."""
  if normalisation not in GRAD_CAM_NORMALISATIONS:
    raise InputError("normalisation", f"expected one of {GRAD_CAM_NORMALISATIONS}, got {normalisation!r}")
  if border not in RESIZE_BORDERS:
    raise InputError("border", f"expected one of {RESIZE_BORDERS}, got {border!r}")
  fmap = fmap.astype(jnp.float32)
  alpha = jnp.mean(grads.astype(jnp.float32), axis=(1, 2), keepdims=True)
  cam = jax.nn.relu(jnp.sum(alpha * fmap, axis=-1))
  if normalisation == "before_resize":
    cam = _normalise(cam)
  if resize:
    cam = jnp.maximum(_resize_maps(cam, tuple(image_size), border), 0.0)
  return _normalise(cam) if normalisation == "after_resize" else cam


@dataclasses.dataclass(frozen=True)
class IterativeMaskConfig:
  """Attributes:
    num_iterations: gradient steps per image (Fong & Vedaldi: ~300-500).
    learning_rate: Adam step on the mask logits.
    mask_stride: the optimised mask lives at 1/stride of the image and is bilinearly upsampled
      (a smoothness mechanism, as in the masking model).
    objective: the saliency objective optimised (the same one the masking model is trained on).
  """
  num_iterations: int = 300
  learning_rate: float = 0.1
  mask_stride: int = 4
  objective: obj_lib.ObjectiveConfig = obj_lib.ObjectiveConfig()


def iterative_mask(classifier: Classifier, images: jax.Array, class_ids: jax.Array, rng: jax.Array,
                   cfg: IterativeMaskConfig = IterativeMaskConfig()) -> jax.Array:
  """Optimises one mask per image by gradient descent on the saliency objective.

  All images are optimised together (the objective is a sum over images, and Adam is
  per-parameter, so the batch does not couple them); A is redrawn at every iteration.
  """
  n, h, w, _ = images.shape
  s = max(int(cfg.mask_stride), 1)
  lh, lw = max(h // s, 1), max(w // s, 1)
  real = jnp.ones((n,), bool)
  objective = dataclasses.replace(cfg.objective, embedding_weight=0.0)
  tx = optax.adam(cfg.learning_rate)

  def loss(logits, key):
    masks = jax.image.resize(jax.nn.sigmoid(logits), (n, h, w), method="bilinear")
    value, _ = obj_lib.saliency_objective(key, classifier, images, masks, class_ids, real, objective)
    return value * n  # per-image objective sum: each image's gradient is its own

  def step(carry, key):
    logits, opt_state = carry
    g = jax.grad(loss)(logits, key)
    updates, opt_state = tx.update(g, opt_state, logits)
    return (optax.apply_updates(logits, updates), opt_state), None

  logits0 = jnp.zeros((n, lh, lw), jnp.float32)
  (logits, _), _ = jax.lax.scan(step, (logits0, tx.init(logits0)),
                                jax.random.split(rng, cfg.num_iterations))
  return jax.image.resize(jax.nn.sigmoid(logits), (n, h, w), method="bilinear")
