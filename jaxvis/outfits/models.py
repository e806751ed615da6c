"""Outfit graders: the paper's slot MLP and two set-based graders.

Every grader is called as `model.apply(variables, features, parts, mask,
train=False)` with features (B, M, D) (empty entries hold the mean-image
feature), parts (B, M) int32 part ids (-1 for padding), mask (B, M) bool
(True where an item is present), and returns 2-way logits (B, 2) (float32);
class 1 is "good outfit".
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxvis.outfits import parts as parts_lib
from jaxvis.errors import InputError


def _check_inputs(features, parts, mask, slots: int | None = None) -> None:
  if features.ndim != 3:
    raise InputError("features", f"expected (batch, items, dim), got shape {features.shape}")
  if parts.shape != features.shape[:2] or mask.shape != features.shape[:2]:
    raise ValueError(f"parts/mask: expected shape {features.shape[:2]}, got {parts.shape} and "
                     f"{mask.shape}")
  if slots is not None and features.shape[1] != slots:
    raise InputError("features", f"the slot grader expects {slots} slots (outer, upper, lower, "
                     f"full, feet, 3 accessories), got {features.shape[1]}")


class SlotGrader(nn.Module):
  """The paper's grader: concatenated slots -> Dense(4096) -> BN -> ReLU -> dropout -> Dense(2).

  Attributes:
    hidden: width of the hidden layer (4096 in the paper).
    dropout: dropout rate after the ReLU (not given in the paper; Caffe's usual 0.5).
    bn_momentum: BatchNorm running-average momentum.
    dtype: compute dtype; parameters stay float32.
  """
  hidden: int = 4096
  dropout: float = 0.5
  bn_momentum: float = 0.9
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, features, parts, mask, train: bool = False):
    _check_inputs(features, parts, mask, parts_lib.NUM_SLOTS)
    x = features.reshape(features.shape[0], -1).astype(self.dtype)
    h = nn.Dense(self.hidden, dtype=self.dtype, name="fc1")(x)
    h = nn.BatchNorm(use_running_average=not train, momentum=self.bn_momentum, epsilon=1e-5,
                     dtype=self.dtype, name="bn")(h)
    h = nn.relu(h)
    h = nn.Dropout(self.dropout, deterministic=not train)(h)
    return nn.Dense(2, dtype=self.dtype, name="fc2")(h).astype(jnp.float32)


class DeepSetsGrader(nn.Module):
  """rho(pool_i phi(W x_i + e_part(i))): order-free, any number of items.

  Attributes:
    hidden: width of phi and rho.
    pool: "sum" (DeepSets) or "mean".
  """
  hidden: int = 512
  pool: str = "sum"
  dropout: float = 0.1
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, features, parts, mask, train: bool = False):
    _check_inputs(features, parts, mask)
    if self.pool not in ("sum", "mean"):
      raise InputError("pool", f"expected 'sum' or 'mean', got {self.pool!r}")
    x = nn.Dense(self.hidden, dtype=self.dtype, name="embed")(features.astype(self.dtype))
    x = x + nn.Embed(len(parts_lib.PARTS), self.hidden, name="part_embed")(
        jnp.maximum(parts, 0)).astype(self.dtype)
    x = nn.relu(nn.LayerNorm(dtype=self.dtype, name="ln")(x))
    x = nn.relu(nn.Dense(self.hidden, dtype=self.dtype, name="phi")(x))
    m = mask[..., None].astype(x.dtype)
    pooled = (x * m).sum(1)
    if self.pool == "mean":
      pooled = pooled / jnp.maximum(m.sum(1), 1.0)
    h = nn.relu(nn.Dense(self.hidden, dtype=self.dtype, name="rho")(pooled))
    h = nn.Dropout(self.dropout, deterministic=not train)(h)
    return nn.Dense(2, dtype=self.dtype, name="out")(h).astype(jnp.float32)


class _Block(nn.Module):
  dim: int
  heads: int
  dropout: float
  dtype: Any

  @nn.compact
  def __call__(self, x, attn_mask, train: bool):
    y = nn.LayerNorm(dtype=self.dtype)(x)
    y = nn.MultiHeadDotProductAttention(self.heads, dtype=self.dtype, deterministic=not train,
                                        dropout_rate=self.dropout)(y, y, mask=attn_mask)
    x = x + y
    y = nn.LayerNorm(dtype=self.dtype)(x)
    y = nn.Dense(2 * self.dim, dtype=self.dtype)(y)
    y = nn.Dense(self.dim, dtype=self.dtype)(nn.gelu(y))
    return x + nn.Dropout(self.dropout, deterministic=not train)(y)


class AttentionGrader(nn.Module):
  """A small pre-LN transformer over the items (+ part embeddings) read out by a [CLS] token.

  Attributes:
    dim: model width.
    heads: attention heads.
    layers: transformer blocks.
  """
  dim: int = 256
  heads: int = 4
  layers: int = 2
  dropout: float = 0.1
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, features, parts, mask, train: bool = False):
    _check_inputs(features, parts, mask)
    b = features.shape[0]
    x = nn.Dense(self.dim, dtype=self.dtype, name="embed")(features.astype(self.dtype))
    x = x + nn.Embed(len(parts_lib.PARTS), self.dim, name="part_embed")(
        jnp.maximum(parts, 0)).astype(self.dtype)
    cls = self.param("cls", nn.initializers.normal(0.02), (1, 1, self.dim))
    x = jnp.concatenate([jnp.broadcast_to(cls, (b, 1, self.dim)).astype(self.dtype), x], 1)
    keep = jnp.concatenate([jnp.ones((b, 1), bool), mask.astype(bool)], 1)
    attn_mask = nn.make_attention_mask(keep, keep)
    for i in range(self.layers):
      x = _Block(self.dim, self.heads, self.dropout, self.dtype, name=f"block{i}")(x, attn_mask,
                                                                                 train)
    x = nn.LayerNorm(dtype=self.dtype, name="ln_out")(x[:, 0])
    return nn.Dense(2, dtype=self.dtype, name="out")(x).astype(jnp.float32)


GRADERS = {"slot": SlotGrader, "deepsets": DeepSetsGrader, "attention": AttentionGrader}


def make_grader(name: str, hidden: int, dropout: float, dtype: Any = jnp.float32) -> nn.Module:
  """The grader `name` ("slot", "deepsets" or "attention") with width `hidden`."""
  if name not in GRADERS:
    raise InputError("model", f"expected one of {sorted(GRADERS)}, got {name!r}")
  if name == "slot":
    return SlotGrader(hidden=hidden, dropout=dropout, dtype=dtype)
  if name == "deepsets":
    return DeepSetsGrader(hidden=hidden, dropout=dropout, dtype=dtype)
  return AttentionGrader(dim=hidden, dropout=dropout, dtype=dtype)


def good_probability(logits: jax.Array) -> jax.Array:
  """P(good outfit) from the 2-way logits."""
  return jax.nn.softmax(logits.astype(jnp.float32), axis=-1)[..., 1]
