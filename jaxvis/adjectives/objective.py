"""Losses of the pair-wise stacked CAE and of its baselines (plain and denoising SCAE).

Pair-wise (the paper, Sec. 3.2): for a pair (a in P, b in Q) and level k,
  L^k(a, b) = MSE(i_a^k - i_b^k, o_a^k - o_b^k),   L = sum_k w^k L^k.
Plain SCAE: L^k(x) = MSE(i_x^k, o_x^k) on single images.
Denoising (Vincent et al. 2008): the encoder sees a corrupted input; the loss
is measured against the clean one.

`stage=k` is greedy layer-wise training of level k alone (i^k from the frozen
levels below, o^k = decoding process k of encoding process k); `stage=None`
is fine-tuning of the whole stack (o^k decoded from the top code).
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp

from jaxvis.adjectives.model import StackedCAE
from jaxvis.errors import InputError

OBJECTIVES = ("pairwise", "plain")
NOISES = ("none", "mask", "gaussian")


def corrupt(x: jax.Array, rng: jax.Array, noise: str, level: float) -> jax.Array:
  """Masking noise (a random `level` fraction of entries set to 0) or additive Gaussian."""
  if noise == "none" or level <= 0:
    return x
  if noise == "mask":
    keep = jax.random.bernoulli(rng, 1.0 - level, x.shape)
    return jnp.where(keep, x, jnp.zeros_like(x))
  if noise == "gaussian":
    return x + level * jax.random.normal(rng, x.shape, x.dtype)
  raise InputError("noise", f"expected one of {NOISES}, got {noise!r}")


def _mse(x: jax.Array, y: jax.Array) -> jax.Array:
  return jnp.mean((x.astype(jnp.float32) - y.astype(jnp.float32)) ** 2)


def level_terms(model: StackedCAE, params, images: jax.Array, rng: jax.Array, *,
                stage: int | None, noise: str = "none", noise_level: float = 0.0,
                stop_target_grad: bool = True) -> tuple[list[jax.Array], list[jax.Array]]:
  """Targets [i^k] and reconstructions [o^k] for the levels a stage trains.

  Returns one-element lists for a greedy stage, n-element lists for fine-tuning.
  Targets above the image are `stop_gradient`-ed by default: otherwise the
  lower encoders could shrink their codes to make the upper losses vanish.
  """
  variables = {"params": params}
  if stage is None:
    clean = model.apply(variables, images, method=StackedCAE.encode)
    targets = clean[:-1]
    noisy = corrupt(images, rng, noise, noise_level)
    code = clean[-1] if noisy is images else model.apply(variables, noisy,
                                                         method=StackedCAE.features_of)
    outputs = model.apply(variables, code, method=StackedCAE.decode)
  else:
    below = model.apply(variables, images, stage - 1, method=StackedCAE.encode)[-1]
    below = jax.lax.stop_gradient(below)
    noisy = corrupt(below, rng, noise, noise_level)
    outputs = [model.apply(variables, noisy, stage, method=StackedCAE.reconstruct_level)]
    targets = [below]
  if stop_target_grad:
    targets = [targets[0]] + [jax.lax.stop_gradient(t) for t in targets[1:]]
  return targets, outputs


def level_weights_for(num_levels: int, weights: Sequence[float] | None,
                      stage: int | None) -> list[float]:
  """The weights w^k of the levels in a stage (greedy stages train one level: weight 1)."""
  if stage is not None:
    return [1.0]
  if weights is None:
    return [1.0] * num_levels
  weights = [float(w) for w in weights]
  if len(weights) != num_levels or any(w < 0 for w in weights):
    raise InputError("level_weights", f"expected {num_levels} non-negative weights, got {weights}")
  return weights


def pairwise_loss(model: StackedCAE, params, a: jax.Array, b: jax.Array, rng: jax.Array, *,
                  stage: int | None = None, level_weights: Sequence[float] | None = None,
                  noise: str = "none", noise_level: float = 0.0
                  ) -> tuple[jax.Array, dict[str, jax.Array]]:
  """Pair-wise SCAE loss for a batch of pairs `a` (from P) and `b` (from Q).

  Returns:
    (total loss, {"L1": ..., "Ln": ...}) with per-level terms.
  """
  rng_a, rng_b = jax.random.split(rng)
  ia, oa = level_terms(model, params, a, rng_a, stage=stage, noise=noise,
                       noise_level=noise_level)
  ib, ob = level_terms(model, params, b, rng_b, stage=stage, noise=noise,
                       noise_level=noise_level)
  w = level_weights_for(model.num_levels, level_weights, stage)
  terms = [_mse(xa - xb, ya - yb) for xa, xb, ya, yb in zip(ia, ib, oa, ob)]
  return _weighted(terms, w, stage)


def plain_loss(model: StackedCAE, params, images: jax.Array, rng: jax.Array, *,
               stage: int | None = None, level_weights: Sequence[float] | None = None,
               noise: str = "none", noise_level: float = 0.0
               ) -> tuple[jax.Array, dict[str, jax.Array]]:
  """Plain (or denoising) stacked CAE reconstruction loss on single images."""
  i, o = level_terms(model, params, images, rng, stage=stage, noise=noise,
                     noise_level=noise_level)
  w = level_weights_for(model.num_levels, level_weights, stage)
  return _weighted([_mse(x, y) for x, y in zip(i, o)], w, stage)


def _weighted(terms, weights, stage):
  total = sum(wk * t for wk, t in zip(weights, terms))
  first = 1 if stage is None else stage
  return total, {f"L{first + j}": t for j, t in enumerate(terms)}
