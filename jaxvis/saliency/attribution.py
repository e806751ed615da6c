"""Raw attributions (N, H, W, C) of gradient-based methods, batched over images AND samples.

  input_gradients(classifier, images, class_ids)                  d logit_c / d x
  smoothgrad_attribution(classifier, images, class_ids, rng, ...) gradients of noisy copies, aggregated
  integrated_gradients_attribution(classifier, images, class_ids, ...)  path integral from a baseline

The values are those of Google PAIR's `saliency.core` (GradientSaliency, GetSmoothedMask,
IntegratedGradients) when the options say so (`aggregation="mean_square"`, `rule="linspace"`);
`methods.py` turns them into [0, 1] maps.

Speed: the sample points go through the classifier as batched gradient calls: by default all of
them in one call on an accelerator, one image's samples per call on the CPU. `chunk_size` caps the model inputs per call (like Captum's
`internal_batch_size`) to bound memory: images are split into groups whose samples all fit one
call, and only when one image's samples exceed it are the samples chunked too. The samples are
not looped with `lax.map`: on XLA:CPU a rolled loop body runs several times slower than the same
ops unrolled, so the groups are a Python loop and the sample chunks a `lax.scan` (a running sum
as carry, so memory stays at one chunk) that is unrolled on the CPU.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from jaxvis.errors import InputError

Classifier = Callable[[jax.Array], jax.Array]

SMOOTHGRAD_AGGREGATIONS = ("mean_square", "mean", "mean_abs")
IG_RULES = ("midpoint", "linspace", "trapezoid", "left", "right")


def input_gradients(classifier: Classifier, images: jax.Array, class_ids: jax.Array) -> jax.Array:
  """d logit_c / d images for every image (the batch sum separates per image)."""
  def total(x):
    logits = classifier(x).astype(jnp.float32)
    return jnp.sum(jnp.take_along_axis(logits, class_ids[:, None], axis=1))
  return jax.grad(total)(images)


def _check_chunk(chunk_size: int | None) -> None:
  if chunk_size is not None and int(chunk_size) < 1:
    raise InputError("chunk_size", f"expected a positive number of model inputs per call, got {chunk_size}")


def images_per_call(num_images: int, num_samples: int, chunk_size: int | None) -> int:
  """Images whose samples share one model call: as many as fit `chunk_size` inputs with all their
  samples (at least one). chunk_size None: all images on an accelerator, one on the CPU, where a
  bigger gradient batch costs more per image (benchmarks/saliency_methods.py, batch 8 x 25
  samples: one 200-input call ran at 0.5-0.7x PAIR's speed, one image per call at 1.0-1.2x)."""
  _check_chunk(chunk_size)
  if chunk_size is None:
    return 1 if jax.default_backend() == "cpu" else num_images
  return max(1, min(num_images, int(chunk_size) // max(num_samples, 1)))


def samples_per_call(num_images: int, num_samples: int, chunk_size: int | None) -> int:
  """Sample points per image in one model call: all of them, or as many as `chunk_size` inputs
  allow for `num_images` images (at least one)."""
  _check_chunk(chunk_size)
  if chunk_size is None:
    return num_samples
  return max(1, min(num_samples, int(chunk_size) // max(num_images, 1)))


def in_image_groups(fn: Callable[..., jax.Array], group: int, *arrays: jax.Array) -> jax.Array:
  """fn over consecutive groups of `group` images (axis 0 of every array), concatenated.

  A Python loop, unrolled into the program: on XLA:CPU a batched gradient costs more per image
  as the batch grows past the caches (SmallCNN, 64x64: 1.1 ms per image at batch 1, 3.7 at
  batch 100), and rolled loops are slower still, so a CPU run wants small unrolled calls."""
  n = arrays[0].shape[0]
  if group >= n:
    return fn(*arrays)
  return jnp.concatenate([fn(*[a[i:i + group] for a in arrays]) for i in range(0, n, group)])


def weighted_gradient_sum(classifier: Classifier, class_ids: jax.Array, point: Callable[[jax.Array], jax.Array],
                          weights: jax.Array, transform: Callable[[jax.Array], jax.Array],
                          num_images: int, chunk_size: int | None = None) -> jax.Array:
  """sum_s weights[s] * transform(d logit_c / d x at point(s)), s = 0..S-1.

  `point(s)` returns the (N, H, W, C) inputs of sample s (s is a traced int32). Each model call
  takes k samples of all N images as one (k*N)-batch; k from `samples_per_call` (callers split
  the images first with `in_image_groups`).
  """
  num = int(weights.shape[0])
  k = samples_per_call(num_images, num, chunk_size)
  chunks = -(-num // k)
  # Padded sample slots repeat the last point with weight 0, so every chunk has one shape.
  w = jnp.pad(weights.astype(jnp.float32), (0, chunks * k - num)).reshape(chunks, k)
  idx = jnp.minimum(jnp.arange(chunks * k, dtype=jnp.int32), num - 1).reshape(chunks, k)
  ids = jnp.tile(class_ids, k)

  def chunk_sum(s_idx, w_chunk):
    x = jax.vmap(point)(s_idx)                                   # (k, N, H, W, C)
    g = input_gradients(classifier, x.reshape((-1,) + x.shape[2:]), ids).reshape(x.shape)
    return jnp.tensordot(w_chunk, transform(g.astype(jnp.float32)), axes=1)

  if chunks == 1:
    return chunk_sum(idx[0], w[0])

  def body(total, chunk):
    return total + chunk_sum(*chunk), None
  first = chunk_sum(idx[0], w[0])
  # XLA:CPU runs a rolled loop body 3-5x slower (SmoothGrad, 25 samples, chunks of 1-5 images:
  # 157 -> 50 ms per image unrolled); elsewhere the rolled loop keeps compile time flat.
  unroll = jax.default_backend() == "cpu"
  total, _ = jax.lax.scan(body, first, (idx[1:], w[1:]), unroll=unroll)
  return total


def _check_batch(images: jax.Array, class_ids: jax.Array) -> None:
  if images.ndim != 4:
    raise InputError("images", f"expected (N, H, W, C), got shape {tuple(images.shape)}")
  if class_ids.shape != images.shape[:1]:
    raise InputError("class_ids", f"expected shape ({images.shape[0]},) (one class per image), "
                                  f"got {tuple(class_ids.shape)}")


def smoothgrad_attribution(classifier: Classifier, images: jax.Array, class_ids: jax.Array,
                           rng: jax.Array | None = None, num_samples: int = 25, noise_level: float = 0.15,
                           aggregation: str = "mean_square", chunk_size: int | None = None,
                           noise: jax.Array | None = None) -> jax.Array:
  """SmoothGrad (Smilkov et al. 2017): gradients at `images + sigma * eps`, sigma =
  `noise_level * (max - min)` of each image, aggregated over the samples per element:

    "mean_square"  mean g^2  (PAIR's default, `magnitude=True`)
    "mean"         mean g    (PAIR's `magnitude=False`)
    "mean_abs"     mean |g|  (the paper's absolute-value variant)

  `noise` (num_samples, N, H, W, C) of standard normals replaces the draws from `rng` (common
  random numbers: the same noise as another implementation, e.g. for a parity check).
  """
  images = jnp.asarray(images)
  class_ids = jnp.asarray(class_ids)
  _check_batch(images, class_ids)
  if aggregation not in SMOOTHGRAD_AGGREGATIONS:
    raise InputError("aggregation", f"expected one of {SMOOTHGRAD_AGGREGATIONS}, got {aggregation!r}")
  if noise is None:
    if rng is None:
      raise InputError("rng", "SmoothGrad needs a PRNG key (or explicit `noise`)")
  else:
    noise = jnp.asarray(noise)
    if noise.shape[1:] != images.shape:
      raise InputError("noise", f"expected (num_samples, *{tuple(images.shape)}), got {tuple(noise.shape)}")
    num_samples = noise.shape[0]
  if int(num_samples) < 1:
    raise InputError("num_samples", f"expected >= 1, got {num_samples}")
  num_samples = int(num_samples)
  transform = {"mean_square": jnp.square, "mean": lambda g: g, "mean_abs": jnp.abs}[aggregation]
  weights = jnp.full((num_samples,), 1.0 / num_samples)
  index = jnp.arange(images.shape[0], dtype=jnp.int32)
  # noise per (sample, image) key: the values do not depend on how the images are grouped
  noise_n = None if noise is None else jnp.moveaxis(noise, 1, 0)

  def group(x, ids, idx, *eps_n):
    span = jnp.max(x, axis=(1, 2, 3)) - jnp.min(x, axis=(1, 2, 3))
    sigma = (noise_level * span)[:, None, None, None]

    def point(s):
      if eps_n:
        eps = eps_n[0][:, s]
      else:
        draw = lambda i: jax.random.normal(jax.random.fold_in(jax.random.fold_in(rng, s), i), x.shape[1:])
        eps = jax.vmap(draw)(idx)
      return x + sigma * eps.astype(x.dtype)

    return weighted_gradient_sum(classifier, ids, point, weights, transform, x.shape[0], chunk_size)

  g = images_per_call(images.shape[0], num_samples, chunk_size)
  extra = () if noise_n is None else (noise_n,)
  return in_image_groups(group, g, images, class_ids, index, *extra)


def path_rule(rule: str, num_steps: int) -> tuple[jax.Array, jax.Array]:
  """(alphas, weights) of a quadrature of the path integral over alpha in [0, 1].

    "midpoint"   (k + 1/2) / n, weights 1/n   (the default: exact for linear paths of quadratics)
    "linspace"   linspace(0, 1, n), weights 1/n   (PAIR's `IntegratedGradients`: both endpoints, / n)
    "trapezoid"  linspace(0, 1, n), weights 1/(n-1), halved at the ends
    "left"/"right"  k / n or (k + 1) / n, weights 1/n
  """
  n = int(num_steps)
  if rule not in IG_RULES:
    raise InputError("rule", f"expected one of {IG_RULES}, got {rule!r}")
  if n < (2 if rule == "trapezoid" else 1):
    raise InputError("num_steps", f"expected >= {2 if rule == 'trapezoid' else 1} for rule {rule!r}, got {n}")
  k = jnp.arange(n, dtype=jnp.float32)
  uniform = jnp.full((n,), 1.0 / n)
  if rule == "midpoint":
    return (k + 0.5) / n, uniform
  if rule == "left":
    return k / n, uniform
  if rule == "right":
    return (k + 1) / n, uniform
  alphas = jnp.linspace(0.0, 1.0, n) if n > 1 else jnp.zeros((1,))
  if rule == "linspace":
    return alphas, uniform
  return alphas, jnp.full((n,), 1.0 / (n - 1)).at[jnp.array([0, n - 1])].multiply(0.5)


def integrated_gradients_attribution(classifier: Classifier, images: jax.Array, class_ids: jax.Array,
                                     baseline: jax.Array | None = None, num_steps: int = 32,
                                     rule: str = "midpoint", chunk_size: int | None = None) -> jax.Array:
  """Integrated Gradients (Sundararajan et al. 2017): (x - x') * sum_s w_s grad(x' + a_s (x - x')).

  Completeness: the channels and pixels sum to f_c(x) - f_c(x') up to the quadrature error.
  `baseline` broadcasts to the images (default: zeros, black).
  """
  images = jnp.asarray(images)
  class_ids = jnp.asarray(class_ids)
  _check_batch(images, class_ids)
  base = jnp.zeros_like(images) if baseline is None else jnp.broadcast_to(jnp.asarray(baseline, images.dtype),
                                                                          images.shape)
  alphas, weights = path_rule(rule, num_steps)

  def group(x, ids, b):
    diff = x - b
    return diff * weighted_gradient_sum(classifier, ids, lambda s: b + alphas[s] * diff, weights,
                                        lambda g: g, x.shape[0], chunk_size)

  return in_image_groups(group, images_per_call(images.shape[0], int(num_steps), chunk_size),
                         images, class_ids, base)
