"""DenseNet (Huang et al., "Densely Connected Convolutional Networks") as Linen modules.

Each dense layer is BN-ReLU-Conv(3x3, growth_rate) (DenseNet-B puts a
BN-ReLU-Conv(1x1, 4 * growth_rate) bottleneck first) and its output is
concatenated to its input, so layer l of a block sees all earlier feature maps.
Transition layers between blocks are BN-ReLU-Conv(1x1, compression * C) followed by
2x2 average pooling. The head is BN-ReLU, global average pooling and a linear layer.

    model = DenseNetSmall(num_classes=2)                  # the QR-code verifier (32x32 crops)
    variables = model.init(rng, jnp.zeros((1, 32, 32, 3)))   # {"params", "batch_stats"}
    logits = model.apply(variables, x)                    # inference: running statistics
    logits, upd = model.apply(variables, x, train=True, mutable=["batch_stats"])

`DenseNet121` (ImageNet stem: 7x7/2 conv + 3x3/2 max-pool, blocks 6-12-24-16,
growth 32, DenseNet-BC) is the paper's configuration; `DenseNetSmall` is the
CIFAR-style stem (one 3x3 conv of 2 * growth_rate channels) with three short blocks.
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from jaxvis.nn import layers

Dtype = Any


class DenseLayer(nn.Module):
  """BN-ReLU-(Conv1x1 bottleneck)-BN-ReLU-Conv3x3 producing `growth_rate` maps, concatenated.

  Attributes:
    growth_rate: new feature maps of this layer.
    bottleneck: DenseNet-B 1x1 conv to 4 * growth_rate first.
    dtype: compute dtype.
  """
  growth_rate: int
  bottleneck: bool = True
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    norm = functools.partial(nn.BatchNorm, use_running_average=not train, momentum=0.9, epsilon=1e-5,
                             dtype=self.dtype, param_dtype=jnp.float32)
    y = x
    if self.bottleneck:
      y = nn.relu(norm(name="bn1")(y))
      y = layers.PointwiseConv(4 * self.growth_rate, use_bias=False, dtype=self.dtype, name="conv1")(y)
    y = nn.relu(norm(name="bn2")(y))
    y = nn.Conv(self.growth_rate, (3, 3), padding="SAME", use_bias=False, dtype=self.dtype,
                param_dtype=jnp.float32, name="conv2")(y)
    return jnp.concatenate([x, y.astype(x.dtype)], axis=-1)


class Transition(nn.Module):
  """BN-ReLU-Conv1x1 to `features` maps, then 2x2 average pooling (stride 2).

  Attributes:
    features: output channels (compression * input channels).
    dtype: compute dtype.
  """
  features: int
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    x = nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, dtype=self.dtype,
                     param_dtype=jnp.float32, name="bn")(x)
    x = layers.PointwiseConv(self.features, use_bias=False, dtype=self.dtype, name="conv")(nn.relu(x))
    return nn.avg_pool(x, (2, 2), strides=(2, 2))


class DenseNet(nn.Module):
  """Dense blocks joined by transition layers, then BN-ReLU-global pool-linear.

  Attributes:
    num_classes: output logits.
    block_sizes: dense layers per block.
    growth_rate: k, maps added by each dense layer.
    compression: theta, channel factor of the transitions (DenseNet-C: 0.5).
    bottleneck: DenseNet-B 1x1 bottlenecks.
    imagenet_stem: 7x7/2 conv (2k maps) + 3x3/2 max-pool; else one 3x3 conv (2k maps).
    dtype: compute dtype (parameters stay float32; logits are returned in float32).
  """
  num_classes: int
  block_sizes: Sequence[int] = (6, 12, 24, 16)
  growth_rate: int = 32
  compression: float = 0.5
  bottleneck: bool = True
  imagenet_stem: bool = True
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False, return_features: bool = False):
    """(N, H, W, C) float images -> (N, num_classes) logits (and the pooled features)."""
    if x.ndim != 4:
      raise ValueError(f"x: expected (N, H, W, C) images, got shape {x.shape}")
    if not jnp.issubdtype(x.dtype, jnp.floating):
      raise TypeError(f"x: expected a float array, got {x.dtype}")
    downs = len(self.block_sizes) - 1 + (2 if self.imagenet_stem else 0)
    if min(x.shape[1:3]) < 2 ** downs:
      raise ValueError(f"x: images of at least {2 ** downs}x{2 ** downs} needed for "
                       f"{len(self.block_sizes)} blocks, got {x.shape[1:3]}")
    d = self.dtype
    x = x.astype(d)
    k = self.growth_rate
    if self.imagenet_stem:
      x = nn.Conv(2 * k, (7, 7), strides=(2, 2), padding=((3, 3), (3, 3)), use_bias=False, dtype=d,
                  param_dtype=jnp.float32, name="stem_conv")(x)
      x = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9, dtype=d,
                               param_dtype=jnp.float32, name="stem_bn")(x))
      x = nn.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
    else:
      x = nn.Conv(2 * k, (3, 3), padding="SAME", use_bias=False, dtype=d, param_dtype=jnp.float32,
                  name="stem_conv")(x)
    for b, layers in enumerate(self.block_sizes):
      for l in range(layers):
        x = DenseLayer(k, self.bottleneck, d, name=f"block{b + 1}_layer{l + 1}")(x, train)
      if b < len(self.block_sizes) - 1:
        x = Transition(int(x.shape[-1] * self.compression), d, name=f"transition{b + 1}")(x, train)
    x = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9, dtype=d, param_dtype=jnp.float32,
                             name="final_bn")(x))
    feats = jnp.mean(x, axis=(1, 2))
    logits = nn.Dense(self.num_classes, dtype=d, param_dtype=jnp.float32, name="head")(feats)
    logits = logits.astype(jnp.float32)
    return (logits, feats.astype(jnp.float32)) if return_features else logits


DenseNet121 = functools.partial(DenseNet, block_sizes=(6, 12, 24, 16), growth_rate=32, imagenet_stem=True)
DenseNetSmall = functools.partial(DenseNet, block_sizes=(3, 3, 3), growth_rate=8, imagenet_stem=False)
