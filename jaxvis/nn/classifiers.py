"""Small CNN classifiers for 32x32 and 64x64 inputs: the black boxes of the saliency experiments.

`SmallCNN` is a VGG-style stack (two 3x3 convs per stage, 2x2 max-pool) with global average
pooling and a linear head; optionally a strided first conv (cheap on 64x64 canvases) and a
per-image standardisation of the input (robust to each image's colour and brightness). It has no batch statistics, so `apply(variables, images)` is a pure
`images -> logits` function that any saliency method can treat as a black box. For Grad-CAM it
splits into `features` (the last conv map) and `head` (pool + linear):

    model = SmallCNN(num_classes=10)
    variables = model.init(rng, jnp.zeros((1, 32, 32, 3)))
    logits = model.apply(variables, images)
    fmap = model.apply(variables, images, method=SmallCNN.features)
    logits = model.apply(variables, fmap, method=SmallCNN.head)
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


def check_image_batch(images, name: str = "images", channels: int | None = None) -> None:
  """Static checks on an NHWC float batch; raises ValueError/TypeError naming `name`."""
  if images.ndim != 4:
    raise ValueError(f"{name}: expected rank 4 (N, H, W, C) NHWC, got shape {images.shape}")
  if channels is not None and images.shape[-1] != channels:
    hint = " (looks channels-first: transpose to NHWC)" if images.shape[1] == channels else ""
    raise ValueError(f"{name}: expected {channels} channels last, got shape {images.shape}{hint}")
  if not jnp.issubdtype(images.dtype, jnp.floating):
    raise TypeError(f"{name}: expected a float array, got {images.dtype}")


class SmallCNN(nn.Module):
  """VGG-style classifier for small images (32x32 CIFAR-10, 64x64 cluttered digits).

  Attributes:
    num_classes: number of output logits.
    widths: channels of each stage; each stage halves the resolution.
    convs_per_stage: 3x3 conv (+ GroupNorm) + ReLU layers per stage.
    in_channels: expected input channels (checked).
    group_norm: GroupNorm after each conv (stateless normalisation). Off for the cluttered
      digits: GroupNorm over (H, W) right before the global average pool leaves the pooled
      features nearly image-independent at init, and training sat at chance for hundreds of steps.
    stem_stride: stride of the very first conv (2 halves every later map: 4x fewer FLOPs).
    standardize: subtract each image's per-channel mean and divide by its std (+0.05) first.
    dtype: compute dtype; parameters stay float32 and logits are returned in float32.
  """
  num_classes: int
  widths: Sequence[int] = (32, 64, 128)
  convs_per_stage: int = 2
  in_channels: int = 3
  group_norm: bool = True
  stem_stride: int = 1
  standardize: bool = False
  dtype: Any = jnp.float32

  def setup(self):
    if self.stem_stride < 1:
      raise ValueError(f"stem_stride: expected >= 1, got {self.stem_stride}")
    # He init: the ReLU stack keeps its activation scale without normalisation layers.
    he = nn.initializers.he_normal()
    self.convs = [[nn.Conv(w, (3, 3), strides=self.stem_stride if i == j == 0 else 1, kernel_init=he,
                           dtype=self.dtype, name=f"stage{i + 1}_conv{j + 1}")
                   for j in range(self.convs_per_stage)] for i, w in enumerate(self.widths)]
    # GroupNorm (no batch statistics) keeps the classifier a pure `images -> logits` function
    # while letting it train quickly from scratch.
    self.norms = [[nn.GroupNorm(num_groups=min(8, w), dtype=self.dtype, name=f"stage{i + 1}_gn{j + 1}")
                   if self.group_norm else None for j in range(self.convs_per_stage)]
                  for i, w in enumerate(self.widths)]
    self.dense = nn.Dense(self.num_classes, dtype=self.dtype, name="head")

  def features(self, images: jax.Array) -> jax.Array:
    """The last conv stage's map (N, H/(stem_stride 2^(S-1)), ..., widths[-1]) before pooling."""
    feats = self.stage_features(images)
    return feats[f"stride{self.stage_strides[-1]}"]

  @property
  def stage_strides(self) -> tuple[int, ...]:
    """Input stride of each stage's output map."""
    return tuple(self.stem_stride * 2**i for i in range(len(self.widths)))

  def stage_features(self, images: jax.Array) -> dict[str, jax.Array]:
    """Every stage's output map, `{"stride{s}": (N, H/s, W/s, width)}` (a U-Net encoder's skips)."""
    check_image_batch(images, channels=self.in_channels)
    x = images.astype(jnp.float32)
    if self.standardize:
      mean = jnp.mean(x, axis=(1, 2), keepdims=True)
      var = jnp.var(x, axis=(1, 2), keepdims=True)
      # jnp.std's value with a finite gradient on constant images (the sqrt at 0 is NaN),
      # so attribution baselines that start from a black image stay finite.
      std = jnp.where(var > 0, jnp.sqrt(jnp.where(var > 0, var, 1.0)), 0.0)
      x = (x - mean) / (std + 0.05)
    x = x.astype(self.dtype)
    feats = {}
    for i, (stage, norms) in enumerate(zip(self.convs, self.norms)):
      if i > 0:
        x = nn.max_pool(x, (2, 2), (2, 2))
      for conv, norm in zip(stage, norms):
        x = conv(x)
        x = nn.relu(norm(x) if norm is not None else x)
      feats[f"stride{self.stage_strides[i]}"] = x
    return feats

  def head(self, fmap: jax.Array) -> jax.Array:
    """Global average pool + linear layer -> float32 logits."""
    pooled = jnp.mean(fmap.astype(jnp.float32), axis=(1, 2))
    return self.dense(pooled.astype(self.dtype)).astype(jnp.float32)

  def __call__(self, images: jax.Array) -> jax.Array:
    return self.head(self.features(images))
