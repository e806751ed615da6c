"""The saliency methods the paper compares against, batched and jittable.

Each returns (N, H, W) float32 maps in [0, 1] (1 = salient) for `class_ids`, so the same
metrics (threshold 0.5, tightest box) score them all:

  gradient(classifier, images, class_ids)                 Simonyan et al. |d f_c / d x|
  smoothgrad(classifier, images, class_ids, rng)          mean gradient over noisy copies
  integrated_gradients(classifier, images, class_ids)     path integral from a black baseline
  grad_cam(features_fn, head_fn, images, class_ids)       Selvaraju et al. on the last conv map
  iterative_mask(classifier, images, class_ids, rng)      per-image gradient descent on a mask
                                                          through the saliency objective (the
                                                          paper's "Mask" column, Fong & Vedaldi)

`classifier` is any `images -> logits` function. Gradient-type maps are normalised per image by
their maximum, the usual way to threshold them.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import optax

from jaxvis.saliency import objective as obj_lib

Classifier = Callable[[jax.Array], jax.Array]


def _normalise(maps: jax.Array) -> jax.Array:
  """Per-image scaling to [0, 1] by the maximum (all-zero maps stay zero)."""
  peak = jnp.max(maps, axis=(1, 2), keepdims=True)
  return jnp.where(peak > 0, maps / jnp.where(peak > 0, peak, 1.0), 0.0)


def _class_score_grad(classifier: Classifier, images: jax.Array, class_ids: jax.Array) -> jax.Array:
  """d logit_c / d images for every image (the batch sum separates per image)."""
  def total(x):
    logits = classifier(x).astype(jnp.float32)
    return jnp.sum(jnp.take_along_axis(logits, class_ids[:, None], axis=1))
  return jax.grad(total)(images)


def gradient(classifier: Classifier, images: jax.Array, class_ids: jax.Array) -> jax.Array:
  """Vanilla gradient: max over channels of |d logit_c / d x|."""
  g = _class_score_grad(classifier, images, class_ids)
  return _normalise(jnp.max(jnp.abs(g), axis=-1))


def smoothgrad(classifier: Classifier, images: jax.Array, class_ids: jax.Array, rng: jax.Array,
               num_samples: int = 16, noise_level: float = 0.15) -> jax.Array:
  """SmoothGrad: average |gradient| over `num_samples` copies with noise of std
  `noise_level * (max - min)` of each image."""
  span = (jnp.max(images, axis=(1, 2, 3)) - jnp.min(images, axis=(1, 2, 3)))[:, None, None, None]

  def one(key):
    noisy = images + noise_level * span * jax.random.normal(key, images.shape, images.dtype)
    return jnp.max(jnp.abs(_class_score_grad(classifier, noisy, class_ids)), axis=-1)

  maps = jax.lax.map(one, jax.random.split(rng, num_samples))
  return _normalise(jnp.mean(maps, axis=0))


def integrated_gradients(classifier: Classifier, images: jax.Array, class_ids: jax.Array,
                         baseline: jax.Array | None = None, num_steps: int = 32) -> jax.Array:
  """Integrated Gradients (midpoint rule) from `baseline` (default: zeros); |attribution| summed
  over channels."""
  base = jnp.zeros_like(images) if baseline is None else jnp.broadcast_to(baseline, images.shape)
  alphas = (jnp.arange(num_steps, dtype=jnp.float32) + 0.5) / num_steps

  def one(alpha):
    return _class_score_grad(classifier, base + alpha * (images - base), class_ids)

  avg_grad = jnp.mean(jax.lax.map(one, alphas), axis=0)
  return _normalise(jnp.sum(jnp.abs((images - base) * avg_grad), axis=-1))


def grad_cam(features_fn: Callable[[jax.Array], jax.Array], head_fn: Callable[[jax.Array], jax.Array],
             images: jax.Array, class_ids: jax.Array) -> jax.Array:
  """Grad-CAM: ReLU(sum_k alpha_k A_k), alpha_k = spatial mean of d logit_c / d A_k, resized to the
  image.

  Args:
    features_fn: images -> the last conv map (N, h, w, K).
    head_fn: that map -> logits.
  """
  fmap = features_fn(images).astype(jnp.float32)

  def total(a):
    logits = head_fn(a).astype(jnp.float32)
    return jnp.sum(jnp.take_along_axis(logits, class_ids[:, None], axis=1))

  grads = jax.grad(total)(fmap)
  alpha = jnp.mean(grads, axis=(1, 2), keepdims=True)
  cam = jax.nn.relu(jnp.sum(alpha * fmap, axis=-1))
  n, h, w, _ = images.shape
  cam = jax.image.resize(cam, (n, h, w), method="bilinear")
  return _normalise(jnp.maximum(cam, 0.0))


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
