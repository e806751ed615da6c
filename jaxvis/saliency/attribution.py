"""Raw attributions (N, H, W, C) of the gradient- and perturbation-based methods, batched over
images AND samples.

  input_gradients(classifier, images, class_ids)                  d logit_c / d x
  smoothgrad_attribution(classifier, images, class_ids, rng, ...) gradients of noisy copies, aggregated
  integrated_gradients_attribution(classifier, images, class_ids, ...)  path integral from a baseline
  blur_ig_attribution(classifier, images, class_ids, ...)         path integral along a Gaussian blur path
  occlusion_attribution(classifier, images, class_ids, ...)       logit drop under a sliding grey window
  (XRAI, which ranks image segments by these attributions, is in `xrai.py`.)

The values are those of Google PAIR's `saliency.core` (GradientSaliency, GetSmoothedMask,
IntegratedGradients, BlurIG, Occlusion) when the options say so (`aggregation="mean_square"`,
`rule="linspace"`); `methods.py` turns them into [0, 1] maps.

Batching: the sample points (noisy copies, path points, occluded copies) go through the classifier
as batched calls of at most `chunk_size` model inputs (like Captum's `internal_batch_size`).
Images are split into groups whose samples all fit one call; when one image's samples exceed it,
the samples are chunked too (balanced chunks, the last padded with zero weight). None means all
in one call on an accelerator and `CPU_GRADIENT_INPUTS` / `CPU_FORWARD_INPUTS` inputs per call on
the CPU, where a gradient call is cheapest per input at 13-32 inputs (SmallCNN 64x64: 0.61 ms per
input there, 0.87-0.95 at 50-200).

Memory is bounded by one call's buffers, on the CPU too, because the calls are ordered (each
group and each chunk waits for the previous one through `lax.optimization_barrier`) and the
programs are compiled with XLA:CPU's memory-optimised scheduler (`compiler_options()`). With the
default scheduler, XLA:CPU gave every group its own buffers (145 MB of temporaries for 8 images x
25 IG steps instead of 18 MB); that buffer is mmap-ed afresh on every call (above glibc's 32 MB
mmap threshold), and the page faults made the batched program up to 2.5x slower per image than
one-image calls: the reason the batch-8 Integrated Gradients once ran at 0.78x PAIR's speed.
Called outside `jax.jit`, the functions compile themselves with those options (one program per
classifier, options and shapes, cached); under your own `jax.jit` on the CPU pass
`compiler_options=attribution.compiler_options()` to get the same.

Gradient sample chunks are an unrolled `lax.scan` on the CPU: XLA:CPU runs convolutions inside a
while loop without its YNNPACK kernels, and for a convolution's gradient that is a slow path
(SmallCNN: 5.6 ms per gradient input rolled, 1.0 unrolled). Occlusion's hundreds of forward chunks
are too many to unroll: under a trace they are a rolled scan (about 2x slower per input), called
outside `jax.jit` one compiled chunk program runs chunk after chunk.
"""

from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxvis.errors import InputError

Classifier = Callable[[jax.Array], jax.Array]

SMOOTHGRAD_AGGREGATIONS = ("mean_square", "mean", "mean_abs")
IG_RULES = ("midpoint", "linspace", "trapezoid", "left", "right")
CPU_GRADIENT_INPUTS = 32   # model inputs per gradient call on the CPU when chunk_size is None
CPU_FORWARD_INPUTS = 64    # ... per forward call (occlusion)


# ---------------------------------------------------------------- compilation


def compiler_options() -> dict[str, str]:
  """XLA options for programs that run many model calls one after another: on the CPU the
  memory-optimised scheduler (buffers reused from call to call); nothing elsewhere."""
  if jax.default_backend() == "cpu":
    return {"xla_cpu_scheduler_type": "CPU_SCHEDULER_TYPE_MEMORY_OPTIMIZED"}
  return {}


def jit(fn: Callable, **kwargs) -> Callable:
  """`jax.jit` with `compiler_options()`."""
  return jax.jit(fn, compiler_options=compiler_options() or None, **kwargs)


@functools.lru_cache(maxsize=32)
def _compiled(core: Callable, classifier: Classifier, static: tuple) -> Callable:
  return jit(functools.partial(core, classifier, **dict(static)))


def _traced(*arrays) -> bool:
  """Whether any array is being traced (the caller runs under jit / vmap / grad)."""
  return any(isinstance(a, jax.core.Tracer) for a in jax.tree.leaves(arrays))


def _run(core: Callable, classifier: Classifier, static: dict, *arrays) -> jax.Array:
  """core(classifier, *arrays, **static): inline under a trace, else one cached compiled program
  (per classifier object, static options and shapes; a new lambda per call compiles anew; the 32
  most recent are kept)."""
  if _traced(*arrays):
    return core(classifier, *arrays, **static)
  key = tuple(sorted(static.items()))
  try:
    fn = _compiled(core, classifier, key)
  except TypeError:  # an unhashable classifier or option: compile without the cache
    fn = jit(functools.partial(core, classifier, **static))
  return fn(*arrays)


# ---------------------------------------------------------------- batching plan


def _check_chunk(chunk_size: int | None) -> None:
  if chunk_size is not None and int(chunk_size) < 1:
    raise InputError("chunk_size", f"expected a positive number of model inputs per call, got {chunk_size}")


def inputs_per_call(chunk_size: int | None, cpu_default: int = CPU_GRADIENT_INPUTS) -> int | None:
  """The cap on model inputs per call: `chunk_size`, else `cpu_default` on the CPU and None
  (no cap) on an accelerator."""
  _check_chunk(chunk_size)
  if chunk_size is not None:
    return int(chunk_size)
  return cpu_default if jax.default_backend() == "cpu" else None


def images_per_call(num_images: int, num_samples: int, cap: int | None) -> int:
  """Images whose samples share one model call: as many as fit `cap` inputs with all their
  samples (at least one; all without a cap)."""
  if cap is None:
    return num_images
  return max(1, min(num_images, cap // max(num_samples, 1)))


def samples_per_call(num_images: int, num_samples: int, cap: int | None) -> int:
  """Sample points per image in one call: all, or the balanced chunk (fewest calls, least
  padding) within `cap` inputs for `num_images` images."""
  if cap is None:
    return num_samples
  most = max(1, min(num_samples, cap // max(num_images, 1)))
  calls = -(-num_samples // most)
  return -(-num_samples // calls)


def in_image_groups(fn: Callable[..., jax.Array], group: int, *arrays) -> jax.Array:
  """fn over consecutive groups of `group` images (axis 0 of every array; None passes through),
  concatenated. Each group starts after the previous one has finished (an optimisation barrier
  on its inputs and the previous output), so XLA reuses one group's buffers for the next."""
  n = arrays[0].shape[0]
  if group >= n:
    return fn(*arrays)
  outs = []
  for i in range(0, n, group):
    part = tuple(None if a is None else a[i:i + group] for a in arrays)
    if outs:
      part, _ = jax.lax.optimization_barrier((part, outs[-1]))
    outs.append(fn(*part))
  return jnp.concatenate(outs)


def class_logits(logits: jax.Array, class_ids: jax.Array) -> jax.Array:
  """logits[i, class_ids[i]] as float32 (a one-hot product: its gradient is a multiply, not a scatter)."""
  logits = logits.astype(jnp.float32)
  return jnp.sum(logits * jax.nn.one_hot(class_ids, logits.shape[-1], dtype=logits.dtype), axis=-1)


def class_score(logits: jax.Array, class_ids: jax.Array) -> jax.Array:
  """sum_i logits[i, class_ids[i]]: its gradient is every image's d logit_c / d x at once."""
  return jnp.sum(class_logits(logits, class_ids))


def _gradients(classifier: Classifier, images: jax.Array, class_ids: jax.Array) -> jax.Array:
  return jax.grad(lambda x: class_score(classifier(x), class_ids))(images)


def input_gradients(classifier: Classifier, images: jax.Array, class_ids: jax.Array) -> jax.Array:
  """d logit_c / d images for every image (the batch sum separates per image)."""
  return _run(_gradients, classifier, {}, jnp.asarray(images), jnp.asarray(class_ids))


def gradient_sum(classifier: Classifier, class_ids: jax.Array, points: Callable[[jax.Array], jax.Array],
                 weights: jax.Array, transform: Callable[[jax.Array, jax.Array], jax.Array] | None = None,
                 cap: int | None = None) -> jax.Array:
  """sum_s weights[s] * transform(s, d logit_c / d x at points(s)) over s = 0..S-1, for one group
  of n images.

  Args:
    points: sample indices (k,) int32 -> their inputs (k, n, H, W, C).
    weights: (S,) float32.
    transform: (sample indices (k,), gradients (k, n, H, W, C)) -> (k, n, ...); None = identity.
    cap: model inputs per call (`inputs_per_call`); k samples of all n images form one call.
  """
  num, n = int(weights.shape[0]), int(class_ids.shape[0])
  k = samples_per_call(n, num, cap)
  chunks = -(-num // k)
  # Padded sample slots repeat the last point with weight 0, so every chunk has one shape.
  w = jnp.pad(weights.astype(jnp.float32), (0, chunks * k - num)).reshape(chunks, k)
  idx = jnp.minimum(jnp.arange(chunks * k, dtype=jnp.int32), num - 1).reshape(chunks, k)
  ids = jnp.tile(class_ids, k)

  def chunk_sum(s_idx, w_chunk):
    x = points(s_idx)
    g = _gradients(classifier, x.reshape((-1,) + x.shape[2:]), ids).reshape(x.shape).astype(jnp.float32)
    return jnp.tensordot(w_chunk, g if transform is None else transform(s_idx, g), axes=1)

  first = chunk_sum(idx[0], w[0])
  if chunks == 1:
    return first

  def body(total, chunk):
    chunk, total = jax.lax.optimization_barrier((chunk, total))  # one chunk's buffers at a time
    return total + chunk_sum(*chunk), None

  total, _ = jax.lax.scan(body, first, (idx[1:], w[1:]), unroll=jax.default_backend() == "cpu")
  return total


def _check_batch(images: jax.Array, class_ids: jax.Array) -> None:
  if images.ndim != 4:
    raise InputError("images", f"expected (N, H, W, C), got shape {tuple(images.shape)}")
  if class_ids.shape != images.shape[:1]:
    raise InputError("class_ids", f"expected shape ({images.shape[0]},) (one class per image), "
                                  f"got {tuple(class_ids.shape)}")


# ---------------------------------------------------------------- SmoothGrad


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
    rng = None
  if int(num_samples) < 1:
    raise InputError("num_samples", f"expected >= 1, got {num_samples}")
  static = {"num_samples": int(num_samples), "noise_level": float(noise_level), "aggregation": aggregation,
            "cap": inputs_per_call(chunk_size)}
  # noise per (image, sample): the values do not depend on how the images are grouped
  noise_n = None if noise is None else jnp.moveaxis(noise, 1, 0)
  return _run(_smoothgrad, classifier, static, images, class_ids, rng, noise_n)


def _smoothgrad(classifier, images, class_ids, rng, noise_n, *, num_samples, noise_level, aggregation, cap):
  transform = {"mean_square": lambda s, g: jnp.square(g), "mean": None,
               "mean_abs": lambda s, g: jnp.abs(g)}[aggregation]
  weights = jnp.full((num_samples,), 1.0 / num_samples)
  index = jnp.arange(images.shape[0], dtype=jnp.int32)

  def group(x, ids, idx, eps_n):
    span = jnp.max(x, axis=(1, 2, 3)) - jnp.min(x, axis=(1, 2, 3))
    sigma = (noise_level * span)[None, :, None, None, None]

    def points(s_idx):
      if eps_n is not None:
        eps = jnp.moveaxis(eps_n[:, s_idx], 1, 0)                           # (k, n, H, W, C)
      else:
        draw = lambda s, i: jax.random.normal(jax.random.fold_in(jax.random.fold_in(rng, s), i), x.shape[1:])
        eps = jax.vmap(lambda s: jax.vmap(lambda i: draw(s, i))(idx))(s_idx)
      return x[None] + sigma * eps.astype(x.dtype)

    return gradient_sum(classifier, ids, points, weights, transform, cap)

  g = images_per_call(images.shape[0], num_samples, cap)
  return in_image_groups(group, g, images, class_ids, index, noise_n)


# ---------------------------------------------------------------- Integrated Gradients


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
  `baseline` broadcasts to the images (default: zeros, black); a leading axis of B baselines
  (B, N, H, W, C) averages the attributions from each (XRAI uses the image's min and max).
  """
  images = jnp.asarray(images)
  class_ids = jnp.asarray(class_ids)
  _check_batch(images, class_ids)
  if baseline is None:
    base = jnp.zeros((1,) + images.shape, images.dtype)
  else:
    baseline = jnp.asarray(baseline, images.dtype)
    base = baseline if baseline.ndim == 5 else baseline[None]
    try:
      base = jnp.broadcast_to(base, (base.shape[0],) + images.shape)
    except ValueError:
      raise InputError("baseline", f"expected a shape that broadcasts to {tuple(images.shape)} (or a leading "
                                   f"axis of baselines), got {tuple(baseline.shape)}") from None
  path_rule(rule, num_steps)  # validates
  static = {"num_steps": int(num_steps), "rule": rule, "cap": inputs_per_call(chunk_size)}
  return _run(_integrated_gradients, classifier, static, images, class_ids, jnp.moveaxis(base, 0, 1))


def _integrated_gradients(classifier, images, class_ids, base_n, *, num_steps, rule, cap):
  alphas, weights = path_rule(rule, num_steps)
  nb = base_n.shape[1]
  # sample s = (baseline s // num_steps, step s % num_steps); every baseline's path is averaged
  which = jnp.arange(nb * num_steps, dtype=jnp.int32) // num_steps
  alpha = jnp.tile(alphas, nb)
  weight = jnp.tile(weights, nb) / nb

  def group(x, ids, b):                                     # b: (n, B, H, W, C)
    diff = x[:, None] - b
    if nb == 1:
      points = lambda s_idx: b[None, :, 0] + alpha[s_idx][:, None, None, None, None] * diff[None, :, 0]
      return diff[:, 0] * gradient_sum(classifier, ids, points, weight, None, cap)
    per_sample = lambda a, s_idx: jnp.moveaxis(a[:, which[s_idx]], 1, 0)    # (k, n, H, W, C)
    points = lambda s_idx: per_sample(b, s_idx) + alpha[s_idx][:, None, None, None, None] * per_sample(diff, s_idx)
    return gradient_sum(classifier, ids, points, weight, lambda s_idx, g: per_sample(diff, s_idx) * g, cap)

  g = images_per_call(images.shape[0], nb * num_steps, cap)
  return in_image_groups(group, g, images, class_ids, base_n)


# ---------------------------------------------------------------- Blur IG


def blur_sigmas(max_sigma: float, num_steps: int, sqrt: bool = False) -> np.ndarray:
  """The blur path's sigmas, num_steps + 1 of them from 0 to max_sigma (linear, or the square
  root of linear, as PAIR's `BlurIG(sqrt=...)`)."""
  s = np.arange(num_steps + 1, dtype=np.float64) * float(max_sigma) / num_steps
  return np.sqrt(s) if sqrt else s


def _blur_axes(sigma, n: int, truncate: float, max_sigma: float):
  sigma = jnp.asarray(sigma, jnp.float32)
  top = int(truncate * float(max_sigma) + 0.5) + 1
  d = jnp.arange(-top, top + 1, dtype=jnp.float32)           # kernel offsets
  i = jnp.arange(n, dtype=jnp.float32)
  return sigma, d, i[:, None] - i[None, :]                    # (n, n) offsets of the matrix


def gaussian_blur_matrix(sigma: jax.Array, n: int, truncate: float = 4.0, max_sigma: float | None = None
                         ) -> jax.Array:
  """(n, n) matrix of a 1-D Gaussian blur with zeros outside the image: scipy.ndimage's
  `gaussian_filter1d(mode="constant")` kernel (radius int(truncate * sigma + 0.5), normalised over
  the kernel, not the image); the identity at sigma = 0. `sigma` may be traced; `max_sigma`
  (default n) bounds it."""
  sigma, d, diff = _blur_axes(sigma, n, truncate, n if max_sigma is None else max_sigma)
  safe = jnp.where(sigma > 0, sigma, 1.0)
  radius = jnp.floor(truncate * sigma + 0.5)
  norm = jnp.sum(jnp.where(jnp.abs(d) <= radius, jnp.exp(-0.5 * d * d / (safe * safe)), 0.0))
  m = jnp.where(jnp.abs(diff) <= radius, jnp.exp(-0.5 * diff * diff / (safe * safe)), 0.0) / norm
  return jnp.where(sigma > 0, m, jnp.eye(n, dtype=jnp.float32))


def gaussian_blur_difference(sigma: jax.Array, step: float, n: int, truncate: float = 4.0,
                             max_sigma: float | None = None) -> jax.Array:
  """gaussian_blur_matrix(sigma + step) - gaussian_blur_matrix(sigma), without the float32
  cancellation of subtracting the two (Blur IG's sigma derivative is this over `step`): on the
  common support each weight changes by p_sigma(d) * expm1(delta(d) - log(Z_{sigma+step} / Z_sigma)),
  delta the exact change of the exponent, and the weights the wider kernel adds come in whole."""
  sigma, d, diff = _blur_axes(sigma, n, truncate, (n if max_sigma is None else max_sigma) + step)
  s0 = jnp.where(sigma > 0, sigma, 1.0)
  s1 = s0 + step
  r0, r1 = jnp.floor(truncate * s0 + 0.5), jnp.floor(truncate * (sigma + step) + 0.5)
  inv_gap = (2.0 * s0 * step + step * step) / (s0 * s0 * s1 * s1)   # 1/s0^2 - 1/s1^2, no cancellation
  e0 = lambda t: -0.5 * t * t / (s0 * s0)
  e1 = lambda t: -0.5 * t * t / (s1 * s1)
  delta = lambda t: 0.5 * t * t * inv_gap                               # e1 - e0
  z0 = jnp.sum(jnp.where(jnp.abs(d) <= r0, jnp.exp(e0(d)), 0.0))
  inside = jnp.abs(d) <= r0
  change = jnp.where(inside, jnp.exp(e0(d)) / z0 * jnp.expm1(jnp.where(inside, delta(d), 0.0)), 0.0)
  added = jnp.where(~inside & (jnp.abs(d) <= r1), jnp.exp(e1(d)) / z0, 0.0)
  log_ratio = jnp.log1p(jnp.sum(change) + jnp.sum(added))                # log Z1 / Z0
  near = jnp.abs(diff) <= r0
  common = jnp.where(near, jnp.exp(e0(diff)) / z0 * jnp.expm1(jnp.where(near, delta(diff), 0.0) - log_ratio), 0.0)
  wider = jnp.where((jnp.abs(diff) > r0) & (jnp.abs(diff) <= r1), jnp.exp(e1(diff) - log_ratio) / z0, 0.0)
  at_zero = gaussian_blur_matrix(sigma + step, n, truncate, max_sigma) - jnp.eye(n, dtype=jnp.float32)
  return jnp.where(sigma > 0, common + wider, at_zero)


def blur_ig_attribution(classifier: Classifier, images: jax.Array, class_ids: jax.Array,
                        max_sigma: float = 50.0, num_steps: int = 100, grad_step: float = 0.01,
                        sqrt: bool = False, chunk_size: int | None = None) -> jax.Array:
  """Blur IG (Xu et al. 2020): integrated gradients along the path of ever stronger Gaussian
  blurs, from the image (sigma 0) to sigma `max_sigma` (pixels), PAIR's `BlurIG`:

    -sum_i (sigma_{i+1} - sigma_i) * d blur(x, sigma_i) / d sigma * grad f(blur(x, sigma_i))

  with the sigma derivative a forward difference of `grad_step` and the blur scipy's (zeros
  outside the image). Each step's own sigma difference weights it (PAIR multiplies a whole batch
  by its last step's difference, the same for the default linear sigmas, not for `sqrt=True`
  with `batch_size > 1`).
  """
  images = jnp.asarray(images)
  class_ids = jnp.asarray(class_ids)
  _check_batch(images, class_ids)
  if int(num_steps) < 1:
    raise InputError("num_steps", f"expected >= 1, got {num_steps}")
  for name, v in (("max_sigma", max_sigma), ("grad_step", grad_step)):
    if not v > 0:
      raise InputError(name, f"expected > 0 (pixels), got {v}")
  static = {"max_sigma": float(max_sigma), "num_steps": int(num_steps), "grad_step": float(grad_step),
            "sqrt": bool(sqrt), "cap": inputs_per_call(chunk_size)}
  return _run(_blur_ig, classifier, static, images, class_ids)


def _blur_ig(classifier, images, class_ids, *, max_sigma, num_steps, grad_step, sqrt, cap):
  sig = blur_sigmas(max_sigma, num_steps, sqrt)
  sigmas = jnp.asarray(sig[:-1], jnp.float32)
  weights = jnp.asarray(np.diff(sig), jnp.float32)
  _, h, w, _ = images.shape

  def mats(s_idx, n):
    blur = jax.vmap(lambda v: gaussian_blur_matrix(v, n, max_sigma=max_sigma))(sigmas[s_idx])
    change = jax.vmap(lambda v: gaussian_blur_difference(v, grad_step, n, max_sigma=max_sigma))(sigmas[s_idx])
    return blur, change                                         # (k, n, n) each

  def group(x, ids):
    def points(s_idx):                                          # blur(x, sigma_s): (k, n, H, W, C)
      bh, _ = mats(s_idx, h)
      bw, _ = mats(s_idx, w)
      return jnp.einsum("kyi,nijc,kxj->knyxc", bh, x, bw)

    def transform(s_idx, g):
      # PAIR's (blur(sigma + step) - blur(sigma)) / step, the blur separable: with B' = B + dB
      # per axis, B'h x B'w^T - Bh x Bw^T = dBh x B'w^T + Bh x dBw^T
      bh, dh = mats(s_idx, h)
      bw, dw = mats(s_idx, w)
      change = (jnp.einsum("kyi,nijc,kxj->knyxc", dh, x, bw + dw)
                + jnp.einsum("kyi,nijc,kxj->knyxc", bh, x, dw))
      return change / grad_step * g

    return -gradient_sum(classifier, ids, points, weights, transform, cap)

  g = images_per_call(images.shape[0], num_steps, cap)
  return in_image_groups(group, g, images, class_ids)


# ---------------------------------------------------------------- occlusion


def occlusion_attribution(classifier: Classifier, images: jax.Array, class_ids: jax.Array,
                          size: int = 15, value: float | jax.Array = 0.0, stride: int = 1,
                          chunk_size: int | None = None) -> jax.Array:
  """Occlusion (Zeiler & Fergus 2014), PAIR's `Occlusion`: a `size` x `size` window of `value`
  slides over the image (every `stride` pixels; PAIR: 1), and each pixel accumulates
  logit_c(x) - logit_c(occluded x) over every window that covers it (positive = evidence for
  the class). Forward passes only; the occluded copies go through the classifier `chunk_size`
  at a time (default on the CPU `CPU_FORWARD_INPUTS`).

  Under a trace the chunks are a rolled `lax.scan` (a program of one chunk's size); called
  outside `jax.jit`, they are one compiled chunk program dispatched chunk after chunk, because
  XLA:CPU runs convolutions inside a while loop without its YNNPACK kernels (SmallCNN 64x64:
  0.72 ms per occluded copy rolled, 0.36 as separate calls).

  Returns (N, H, W, C) with the same value in every channel (PAIR's shape).
  """
  images = jnp.asarray(images)
  class_ids = jnp.asarray(class_ids)
  _check_batch(images, class_ids)
  n, h, w, c = images.shape
  if not 1 <= int(size) <= min(h, w):
    raise InputError("size", f"expected a window side in [1, {min(h, w)}] for {h}x{w} images, got {size}")
  if int(stride) < 1:
    raise InputError("stride", f"expected >= 1, got {stride}")
  value = jnp.asarray(value, jnp.float32)
  if value.ndim > 1 or value.size not in (1, c):
    raise InputError("value", f"expected a number or one value per channel ({c}), got shape {tuple(value.shape)}")
  value = jnp.broadcast_to(value.reshape(-1), (c,))
  size, stride = int(size), int(stride)
  cap = inputs_per_call(chunk_size, CPU_FORWARD_INPUTS)
  static = {"size": size, "stride": stride, "cap": cap}
  if _traced(images, class_ids, value):
    return _occlusion(classifier, images, class_ids, value, **static)
  pos = window_corners(h, w, size, stride)
  g = images_per_call(n, len(pos), cap)
  out = []
  for i in range(0, n, g):
    x, ids = images[i:i + g], class_ids[i:i + g]
    chunks = _position_chunks(pos, samples_per_call(x.shape[0], len(pos), cap))
    scores = []
    for p in chunks:
      if scores:  # one chunk in flight behind this one: the CPU runs them one after another
        scores[-1].block_until_ready()
      scores.append(_run(_occluded_scores, classifier, {"size": size}, x, ids, value, p))
    out.append(_run(_occlusion_map, classifier, {"size": size, "stride": stride}, x, ids, jnp.concatenate(scores)))
  return out[0] if len(out) == 1 else jnp.concatenate(out)


def window_corners(h: int, w: int, size: int, stride: int) -> np.ndarray:
  """(P, 2) top-left corners (row, col) of the occlusion windows, row-major."""
  rows, cols = np.arange(0, h - size + 1, stride), np.arange(0, w - size + 1, stride)
  return np.stack(np.meshgrid(rows, cols, indexing="ij"), -1).reshape(-1, 2).astype(np.int32)


def _position_chunks(pos: np.ndarray, k: int) -> jax.Array:
  """(chunks, k, 2) corners, the last chunk padded by repeating the final corner."""
  chunks = -(-len(pos) // k)
  return jnp.asarray(np.concatenate([pos, np.repeat(pos[-1:], chunks * k - len(pos), 0)]).reshape(chunks, k, 2))


def _occluded_scores(classifier, x, ids, value, corners, *, size):
  """logit_c of every image in x (g, H, W, C) with each window (k corners) filled: (k, g)."""
  g, h, w, c = x.shape
  yy, xx = jnp.arange(h)[:, None], jnp.arange(w)[None, :]
  r, q = corners[:, 0, None, None], corners[:, 1, None, None]
  inside = (yy >= r) & (yy < r + size) & (xx >= q) & (xx < q + size)                  # (k, H, W)
  occluded = jnp.where(inside[:, None, :, :, None], value.astype(x.dtype), x[None])    # (k, g, H, W, C)
  k = corners.shape[0]
  return class_logits(classifier(occluded.reshape((-1, h, w, c))), jnp.tile(ids, k)).reshape(k, g)


def _occlusion_map(classifier, x, ids, scores, *, size, stride):
  """(g, H, W, C) attribution from the occluded scores (>= P, g) of the windows in row-major order."""
  g, h, w, _ = x.shape
  pos = window_corners(h, w, size, stride)
  drops = class_logits(classifier(x), ids)[:, None] - jnp.moveaxis(scores[:len(pos)], 0, 1)   # (g, P)
  grid = jnp.zeros((g, h, w), jnp.float32).at[:, pos[:, 0], pos[:, 1]].set(drops)
  # each window's drop on every pixel it covers: a size x size box sum anchored at its corner
  total = jax.lax.reduce_window(grid, 0.0, jax.lax.add, (1, size, size), (1, 1, 1),
                                ((0, 0), (size - 1, 0), (size - 1, 0)))
  return jnp.broadcast_to(total[..., None], x.shape).astype(jnp.float32)


def _occlusion(classifier, images, class_ids, value, *, size, stride, cap):
  n, h, w, c = images.shape
  pos = window_corners(h, w, size, stride)

  def group(x, ids):
    chunks = _position_chunks(pos, samples_per_call(x.shape[0], len(pos), cap))
    _, scores = jax.lax.scan(lambda _, p: (None, _occluded_scores(classifier, x, ids, value, p, size=size)),
                             None, chunks)
    return _occlusion_map(classifier, x, ids, scores.reshape((-1, x.shape[0])), size=size, stride=stride)

  return in_image_groups(group, images_per_call(n, len(pos), cap), images, class_ids)
