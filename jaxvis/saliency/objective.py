"""The saliency objective: smoothness, area, preserver (SSR) and destroyer (SDR) terms.

Paper form (eq. 4):
  L = l1*TV(M) + l2*AV(M) - log f_c(phi(X, M)) + l3 * f_c(phi(X, 1 - M))^l4
with f_c the softmax probability of class c and `phi(X, M) = X*M + A*(1-M)`, A redrawn on
every call. Fake class selectors (30%) get the area term only. The embedding speed-up term
pushes `max_ij X_ij^T C_s` up for real selectors and down for fake ones.

Authors' code form (github.com/PiotrDabkowski/pytorch-saliency, `sal/utils/mask.py`):
  L = destroyer + 8 * mean((M + 5e-4)^0.3) + 0.5 * smooth(M) + 0.3 * preserver
with logit-margin (Carlini-Wagner style) preserver/destroyer terms, a squared-difference
smoothness with a border penalty. Fake selectors get the area term only in both forms.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp

from jaxvis.ops import image as image_ops
from jaxvis.errors import InputError

BlackBox = Callable[[jax.Array], jax.Array]  # images -> logits


@dataclasses.dataclass(frozen=True)
class EvidenceRemoval:
  """How the alternative image A of `phi(X, M) = X*M + A*(1-M)` is drawn.

  Attributes:
    blur_prob: probability that A is a strong Gaussian blur of X (paper: 0.5).
    blur_sigma: blur sigma in pixels; None = 10 * H / 224 (the paper's sigma 10 at 224x224).
    color_range: the random colour is uniform in `value_range` shrunk to this fraction around its
      centre. The authors draw U(-0.33, 0.33) on images in [-1, 1]: 0.33 of the range
      (`ObjectiveConfig.authors()`); the default 0.66 is twice theirs and is kept because the
      shipped cluttered-digits weights were trained with it.
    noise_std: Gaussian noise std as a fraction of the value range (authors: 0.11 / 2).
    value_range: (low, high) of the preprocessed images, for the random colour and noise.
    preserved_noise_std: noise added to X itself, fraction of the range (authors: 0.03 / 2; paper: 0).
  """
  blur_prob: float = 0.5
  blur_sigma: float | None = None
  color_range: float = 0.66
  noise_std: float = 0.055
  value_range: tuple[float, float] = (0.0, 1.0)
  preserved_noise_std: float = 0.0

  def sigma_for(self, height: int) -> float:
    return float(self.blur_sigma) if self.blur_sigma is not None else 10.0 * height / 224.0


@dataclasses.dataclass(frozen=True)
class ObjectiveConfig:
  """Which objective and its weights.

  Attributes:
    form: "authors" (logit margins, area power 0.3; the default, see docs/saliency.md) or
      "paper" (eq. 4 with probabilities).
    tv_weight: l1 (paper 10) / smoothness coefficient (authors' training script 0.005, their loss
      class default 0.5).
    area_weight: l2 (paper 1e-3) / area coefficient (authors 8).
    preserver_weight: weight of the preserver term (paper 1, authors 0.3).
    destroyer_weight: l3 (paper 5) / destroyer coefficient (authors 1).
    destroyer_power: l4 (paper 0.3).
    area_power: authors' `mean((m + 5e-4)^p)` power (0.3); paper form uses the plain mean.
    preserver_confidence, destroyer_confidence: authors' logit margins (1 and 5).
    border_penalty: authors' smoothness border weight (0.3).
    fake_prob: probability of a fake class selector (paper: 0.3).
    embedding_weight: weight of the embedding speed-up term (0 disables it).
    embedding_form: "max" (paper: max_ij X^T C_s) or "mean" (authors: mean, logits (-e/2, e/2)).
    removal: how A is drawn.
  """
  form: str = "authors"
  tv_weight: float = 0.5
  area_weight: float = 8.0
  preserver_weight: float = 0.3
  destroyer_weight: float = 1.0
  destroyer_power: float = 0.3
  area_power: float = 0.3
  preserver_confidence: float = 1.0
  destroyer_confidence: float = 5.0
  border_penalty: float = 0.3
  fake_prob: float = 0.3
  embedding_weight: float = 1.0
  embedding_form: str = "mean"
  removal: EvidenceRemoval = EvidenceRemoval()

  def __post_init__(self):
    if self.form not in ("paper", "authors"):
      raise InputError("form", f"expected 'paper' or 'authors', got {self.form!r}")
    if self.embedding_form not in ("max", "mean"):
      raise InputError("embedding_form", f"expected 'max' or 'mean', got {self.embedding_form!r}")
    if not 0.0 <= self.fake_prob < 1.0:
      raise InputError("fake_prob", f"expected in [0, 1), got {self.fake_prob}")

  @classmethod
  def paper(cls, **kw) -> "ObjectiveConfig":
    """Eq. 4 with the paper's weights l1=10, l2=1e-3, l3=5, l4=0.3 and the max embedding term."""
    kw = {"form": "paper", "tv_weight": 10.0, "area_weight": 1e-3, "preserver_weight": 1.0,
          "destroyer_weight": 5.0, "destroyer_power": 0.3, "embedding_form": "max", **kw}
    return cls(**kw)

  @classmethod
  def authors(cls, value_range: tuple[float, float] = (0.0, 1.0), **kw) -> "ObjectiveConfig":
    """The authors' ImageNet training script (pytorch-saliency `saliency_train.py`): CW margins,
    area 8*mean((m+5e-4)^0.3), preserver 0.3, smoothness 0.005 (their `SaliencyLoss` class
    default, 0.5, is what `ObjectiveConfig()` keeps), and their `apply_mask` draws: colour
    U(-0.33, 0.33) + noise std 0.11 on a [-1, 1] range (0.33 and 0.055 of the range), noise std
    0.03 on the preserved image. `value_range`: the range of the preprocessed images."""
    removal = EvidenceRemoval(color_range=0.33, noise_std=0.055, preserved_noise_std=0.015,
                              value_range=tuple(value_range))
    kw = {"form": "authors", "tv_weight": 0.005, "removal": removal, **kw}
    return cls(**kw)


# ---------------------------------------------------------------- mask regularisers


def total_variation(masks: jax.Array, normalise: bool = False) -> jax.Array:
  """Paper eq. 5 per image: sum of squared neighbour differences of (N, H, W) masks -> (N,).

  With `normalise`, divided by the number of neighbour pairs (the paper form uses this: with
  l1 = 10 the plain sum over a 224x224 mask would outweigh every other term by orders of
  magnitude, and the paper's weights do not say which scale was meant).
  """
  dy = jnp.sum((masks[:, 1:, :] - masks[:, :-1, :]) ** 2, axis=(1, 2))
  dx = jnp.sum((masks[:, :, 1:] - masks[:, :, :-1]) ** 2, axis=(1, 2))
  if normalise:
    _, h, w = masks.shape
    return (dx + dy) / float(max(h * (w - 1) + w * (h - 1), 1))
  return dx + dy


def authors_smoothness(masks: jax.Array, border_penalty: float = 0.3) -> jax.Array:
  """Authors' smoothness per image: (sum sq. diffs + border * sum of squared edge values) / 2."""
  border = (jnp.sum(masks[:, 0, :] ** 2 + masks[:, -1, :] ** 2, axis=1)
            + jnp.sum(masks[:, :, 0] ** 2 + masks[:, :, -1] ** 2, axis=1))
  return (total_variation(masks) + border_penalty * border) / 2.0


def area(masks: jax.Array, power: float | None = None) -> jax.Array:
  """Average mask value per image -> (N,); with `power`, mean((m + 5e-4)^power) (authors)."""
  if power is not None and power != 1.0:
    masks = (masks + 5e-4) ** power  # the offset keeps the gradient of x^0.3 finite at 0
  return jnp.mean(masks, axis=(1, 2))


# ---------------------------------------------------------------- evidence removal


def alternative_images(rng: jax.Array, images: jax.Array, removal: EvidenceRemoval) -> jax.Array:
  """A fresh alternative image A per image: a strong blur of X (prob. `blur_prob`), else a
  random constant colour plus Gaussian noise."""
  n, h, w, c = images.shape
  lo, hi = removal.value_range
  span, mid = hi - lo, (hi + lo) / 2.0
  k_choice, k_color, k_noise = jax.random.split(rng, 3)
  color = mid + span * removal.color_range * jax.random.uniform(k_color, (n, 1, 1, c), minval=-0.5, maxval=0.5)
  noisy = color + span * removal.noise_std * jax.random.normal(k_noise, images.shape)
  sigma = removal.sigma_for(h)
  radius = max(1, min(int(round(3 * sigma)), h - 1, w - 1))
  blurred = image_ops.gaussian_blur(images.astype(jnp.float32), sigma, radius=radius)
  use_blur = jax.random.uniform(k_choice, (n, 1, 1, 1)) < removal.blur_prob
  return jnp.where(use_blur, blurred, noisy).astype(images.dtype)


def remove_evidence(rng: jax.Array, images: jax.Array, masks: jax.Array,
                    removal: EvidenceRemoval) -> jax.Array:
  """`phi(X, M) = X*M + A*(1-M)` with A redrawn from `rng` (no gradient flows into X or A)."""
  k_alt, k_pres = jax.random.split(rng)
  x = jax.lax.stop_gradient(images)
  if removal.preserved_noise_std > 0:
    span = removal.value_range[1] - removal.value_range[0]
    x = x + span * removal.preserved_noise_std * jax.random.normal(k_pres, x.shape, x.dtype)
  alt = jax.lax.stop_gradient(alternative_images(k_alt, x, removal))
  m = masks[..., None].astype(x.dtype)
  return x * m + alt * (1.0 - m)


# ---------------------------------------------------------------- classifier terms


def _true_and_best_other(logits: jax.Array, class_ids: jax.Array):
  onehot = jax.nn.one_hot(class_ids, logits.shape[-1], dtype=bool)
  this = jnp.sum(jnp.where(onehot, logits, 0.0), axis=-1)
  other = jnp.max(jnp.where(onehot, -jnp.inf, logits), axis=-1)
  return this, other


def margin_loss(logits, class_ids, targeted: jax.Array, target_conf: float, untarget_conf: float):
  """Authors' `cw_loss` per image: targeted -> relu(other - this + t_conf), else relu(this - other + nt_conf)."""
  this, other = _true_and_best_other(logits.astype(jnp.float32), class_ids)
  t = jax.nn.relu(other - this + target_conf)
  nt = jax.nn.relu(this - other + untarget_conf)
  return jnp.where(targeted, t, nt)


def embedding_loss(selector_act: jax.Array, is_real: jax.Array, form: str) -> jax.Array:
  """Embedding speed-up term per image (binary cross-entropy on the selector activation)."""
  if form == "max":
    score = jnp.max(selector_act, axis=(1, 2))
    return jnp.where(is_real, jax.nn.softplus(-score), jax.nn.softplus(score))
  # Authors: ex = mean activation; logits (-ex/2, ex/2); CE with target 1 = real.
  ex = jnp.mean(selector_act, axis=(1, 2))
  logp = jax.nn.log_softmax(jnp.stack([-ex / 2, ex / 2], axis=-1), axis=-1)
  return -jnp.where(is_real, logp[:, 1], logp[:, 0])


# ---------------------------------------------------------------- the objective


def saliency_objective(rng: jax.Array, black_box: BlackBox, images: jax.Array, masks: jax.Array,
                       class_ids: jax.Array, is_real: jax.Array, cfg: ObjectiveConfig,
                       selector_act: jax.Array | None = None) -> tuple[jax.Array, dict]:
  """The mean objective over the batch and per-term metrics.

  Args:
    rng: key; A is redrawn independently for the preserved and the destroyed image.
    black_box: images -> logits (frozen; gradients flow only through the masks).
    images: (N, H, W, C) the black box's inputs.
    masks: (N, H, W) in [0, 1], 1 = keep.
    class_ids: (N,) selectors given to the masking model.
    is_real: (N,) bool, False for fake selectors.
    cfg: the objective.
    selector_act: (N, h, w) feature-filter activations for the embedding term (optional).

  Returns:
    (loss, metrics) with scalar entries.
  """
  k_keep, k_kill = jax.random.split(rng)
  preserved = remove_evidence(k_keep, images, masks, cfg.removal)
  destroyed = remove_evidence(k_kill, images, 1.0 - masks, cfg.removal)
  logits_keep = black_box(preserved).astype(jnp.float32)
  logits_kill = black_box(destroyed).astype(jnp.float32)
  real = is_real.astype(jnp.float32)
  n_real = jnp.maximum(jnp.sum(real), 1.0)

  if cfg.form == "paper":
    smooth = total_variation(masks, normalise=True)
    av = area(masks)
    logp_keep = jnp.take_along_axis(jax.nn.log_softmax(logits_keep), class_ids[:, None], 1)[:, 0]
    p_kill = jnp.take_along_axis(jax.nn.softmax(logits_kill), class_ids[:, None], 1)[:, 0]
    preserver = -logp_keep
    # p^l4 with l4 < 1 has an infinite slope at 0: evaluate it at p >= 1e-12.
    destroyer = jnp.maximum(p_kill, 1e-12) ** cfg.destroyer_power
    classifier_terms = cfg.preserver_weight * preserver + cfg.destroyer_weight * destroyer + cfg.tv_weight * smooth
    # Fake selectors: the area term only.
    per_image = cfg.area_weight * av + real * classifier_terms
    loss = jnp.mean(per_image)
  else:
    smooth = authors_smoothness(masks, cfg.border_penalty)
    av = area(masks, cfg.area_power)
    ones = jnp.ones_like(is_real)
    preserver = margin_loss(logits_keep, class_ids, ones, cfg.preserver_confidence, 1.0)
    destroyer = margin_loss(logits_kill, class_ids, ~ones, 1.0, cfg.destroyer_confidence)
    classifier_terms = (cfg.destroyer_weight * destroyer + cfg.preserver_weight * preserver
                        + cfg.tv_weight * smooth)
    # Fake selectors: the area term only, as the paper says, in both forms.
    per_image = cfg.area_weight * av + real * classifier_terms
    loss = jnp.mean(per_image)

  metrics = {
      "area": jnp.mean(jnp.mean(masks, axis=(1, 2))),
      "smoothness": jnp.mean(smooth),
      "preserver": jnp.sum(real * preserver) / n_real,
      "destroyer": jnp.sum(real * destroyer) / n_real,
      "keep_acc": jnp.sum(real * (jnp.argmax(logits_keep, -1) == class_ids)) / n_real,
      "kill_acc": jnp.sum(real * (jnp.argmax(logits_kill, -1) == class_ids)) / n_real,
  }
  if selector_act is not None and cfg.embedding_weight > 0:
    emb = jnp.mean(embedding_loss(selector_act, is_real, cfg.embedding_form))
    loss = loss + cfg.embedding_weight * emb
    metrics["embedding"] = emb
  metrics["objective"] = loss
  return loss, metrics


def draw_selectors(rng: jax.Array, labels: jax.Array, num_classes: int, fake_prob: float):
  """Replaces each label by a uniformly drawn different class with probability `fake_prob`.

  Returns (class_ids, is_real).
  """
  k_fake, k_cls = jax.random.split(rng)
  is_fake = jax.random.uniform(k_fake, labels.shape) < fake_prob
  if num_classes < 2:
    is_fake = jnp.zeros_like(is_fake)
  offset = jax.random.randint(k_cls, labels.shape, 1, max(num_classes, 2))
  fake = (labels + offset) % num_classes
  return jnp.where(is_fake, fake, labels).astype(jnp.int32), ~is_fake
