"""ResNet (v1 and v1.5) as a Linen module, with weight import from Keras and safetensors.

The module follows the Keras/torchvision layer structure closely enough that
weights map one to one: `ResNet50(variant="v1")` is `keras.applications.ResNet50`
(stride on the first 1x1 conv of each downsampling block, conv biases, BN eps
1.001e-5); `variant="v1.5"` is torchvision's (stride on the 3x3 conv, no conv
biases, BN eps 1e-5).

    model = ResNet50()
    variables = model.init(rng, x)
    logits, feats = model.apply(variables, x, return_features=True)
    # feats: stride4/8/16/32 feature maps and pool5 (for U-Net skips and item features)
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxvis.nn import layers

# Keras "caffe" preprocessing: RGB->BGR, subtract the ImageNet BGR means (0..255 scale).
_CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], np.float32)
_TORCH_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
_TORCH_STD = np.array([0.229, 0.224, 0.225], np.float32)


def preprocess(images, mode: str = "caffe") -> jax.Array:
  """Normalises RGB images for a ResNet.

  Args:
    images: (N, H, W, 3) uint8 in [0, 255], or float in [0, 1].
    mode: "caffe" (Keras ImageNet weights: BGR, mean-subtracted, 0..255) or
      "torch" (torchvision weights: RGB, mean/std-normalised, 0..1).
  """
  images = jnp.asarray(images)
  if images.ndim != 4 or images.shape[-1] != 3:
    raise ValueError(f"images: expected (N, H, W, 3) RGB, got shape {images.shape}")
  x = images.astype(jnp.float32)
  if images.dtype == jnp.uint8:
    x = x / 255.0
  if mode == "caffe":
    return x[..., ::-1] * 255.0 - _CAFFE_MEAN_BGR
  if mode == "torch":
    return (x - _TORCH_MEAN) / _TORCH_STD
  raise ValueError(f"mode: expected 'caffe' or 'torch', got {mode!r}")


def preprocess_numpy(images: np.ndarray, mode: str = "caffe") -> np.ndarray:
  """`preprocess` in numpy (float32), for input pipelines that must not run JAX (grain workers)."""
  images = np.asarray(images)
  if images.shape[-1:] != (3,):
    raise ValueError(f"images: expected (..., H, W, 3) RGB, got shape {images.shape}")
  x = images.astype(np.float32)
  if images.dtype == np.uint8:
    x = x / np.float32(255.0)
  if mode == "caffe":
    return x[..., ::-1] * np.float32(255.0) - _CAFFE_MEAN_BGR
  if mode == "torch":
    return (x - _TORCH_MEAN) / _TORCH_STD
  raise ValueError(f"mode: expected 'caffe' or 'torch', got {mode!r}")


def check_images(x, name: str = "images") -> None:
  """Raises a clear error for inputs a ResNet cannot take (shape/dtype checks are static)."""
  if x.ndim != 4:
    raise ValueError(f"{name}: expected rank 4 (N, H, W, 3) NHWC, got shape {x.shape}")
  if x.shape[-1] != 3:
    hint = " (looks channels-first: transpose to NHWC)" if x.shape[1] == 3 else ""
    raise ValueError(f"{name}: expected 3 channels last (N, H, W, 3), got shape {x.shape}{hint}; "
                     "convert grayscale with jnp.repeat(x, 3, -1) and drop alpha first")
  if not jnp.issubdtype(x.dtype, jnp.floating):
    raise TypeError(f"{name}: expected a float array (use resnet.preprocess on uint8), got {x.dtype}")


class _Block(nn.Module):
  """Shared fields and layer factories of the residual blocks.

  Attributes:
    filters: block width (a Bottleneck outputs 4 * filters channels).
    strides: spatial stride of the block.
    variant: "v1" puts a Bottleneck's stride on the first 1x1 conv, "v1.5" on the 3x3.
    use_bias, bn_eps, dtype: see ResNet.
  """
  filters: int
  strides: int
  variant: str
  use_bias: bool
  bn_eps: float
  dtype: Any

  def layers(self, train: bool):
    # 1x1 convs as matmuls (`layers.PointwiseConv`: same parameters, faster on XLA:CPU).
    conv = functools.partial(layers.conv, use_bias=self.use_bias, dtype=self.dtype)
    norm = functools.partial(nn.BatchNorm, use_running_average=not train, momentum=0.99,
                             epsilon=self.bn_eps, dtype=self.dtype)
    return conv, norm

  def shortcut(self, x, out_channels: int, conv, norm):
    """Identity, or a strided 1x1 projection when the shape changes."""
    if self.strides == 1 and x.shape[-1] == out_channels:
      return x
    x = conv(out_channels, (1, 1), (self.strides,) * 2, name="proj_conv")(x)
    return norm(name="proj_bn")(x)


class Bottleneck(_Block):
  """1x1 -> 3x3 -> 1x1 residual block (expansion 4)."""

  @nn.compact
  def __call__(self, x, train: bool):
    conv, norm = self.layers(train)
    s1, s3 = (self.strides, 1) if self.variant == "v1" else (1, self.strides)
    residual = self.shortcut(x, 4 * self.filters, conv, norm)
    y = conv(self.filters, (1, 1), (s1, s1), name="conv1")(x)
    y = nn.relu(norm(name="bn1")(y))
    y = conv(self.filters, (3, 3), (s3, s3), padding=((1, 1), (1, 1)), name="conv2")(y)
    y = nn.relu(norm(name="bn2")(y))
    y = norm(name="bn3")(conv(4 * self.filters, (1, 1), name="conv3")(y))
    return nn.relu(y + residual)


class BasicBlock(_Block):
  """3x3 -> 3x3 residual block (expansion 1), for ResNet-18/34."""

  @nn.compact
  def __call__(self, x, train: bool):
    conv, norm = self.layers(train)
    residual = self.shortcut(x, self.filters, conv, norm)
    y = conv(self.filters, (3, 3), (self.strides,) * 2, padding=((1, 1), (1, 1)), name="conv1")(x)
    y = nn.relu(norm(name="bn1")(y))
    y = norm(name="bn2")(conv(self.filters, (3, 3), padding=((1, 1), (1, 1)), name="conv2")(y))
    return nn.relu(y + residual)


class ResNet(nn.Module):
  """ResNet backbone and classifier.

  Attributes:
    stage_sizes: blocks per stage, e.g. (3, 4, 6, 3) for ResNet-50.
    block: Bottleneck or BasicBlock.
    num_classes: classifier width; None gives an encoder (logits are None).
    variant: "v1" (Keras) or "v1.5" (torchvision).
    width: channels of the stem and the first stage's block width.
    dtype: compute dtype (bfloat16 on accelerators); parameters stay float32.
  """
  stage_sizes: Sequence[int]
  block: Any
  num_classes: int | None = 1000
  variant: str = "v1"
  width: int = 64
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False, return_features: bool = False):
    if self.variant not in ("v1", "v1.5"):
      raise ValueError(f"variant: expected 'v1' or 'v1.5', got {self.variant!r}")
    check_images(x)
    use_bias = self.variant == "v1"
    bn_eps = 1.001e-5 if self.variant == "v1" else 1e-5
    x = x.astype(self.dtype)
    x = nn.Conv(self.width, (7, 7), (2, 2), padding=((3, 3), (3, 3)), use_bias=use_bias,
                dtype=self.dtype, name="stem_conv")(x)
    x = nn.BatchNorm(use_running_average=not train, momentum=0.99, epsilon=bn_eps,
                     dtype=self.dtype, name="stem_bn")(x)
    x = nn.relu(x)
    x = nn.max_pool(x, (3, 3), (2, 2), padding=((1, 1), (1, 1)))
    feats = {}
    for i, n_blocks in enumerate(self.stage_sizes):
      for j in range(n_blocks):
        strides = 2 if (i > 0 and j == 0) else 1
        x = self.block(self.width * 2**i, strides, self.variant, use_bias, bn_eps, self.dtype,
                       name=f"stage{i + 1}_block{j + 1}")(x, train)
      feats[f"stride{4 * 2**i}"] = x
    pooled = jnp.mean(x.astype(jnp.float32), axis=(1, 2))
    feats["pool5"] = pooled
    logits = None
    if self.num_classes is not None:
      logits = nn.Dense(self.num_classes, dtype=self.dtype, name="head")(pooled)
      logits = logits.astype(jnp.float32)
    if return_features:
      return logits, feats
    return logits


ResNet18 = functools.partial(ResNet, stage_sizes=(2, 2, 2, 2), block=BasicBlock)
ResNet34 = functools.partial(ResNet, stage_sizes=(3, 4, 6, 3), block=BasicBlock)
ResNet50 = functools.partial(ResNet, stage_sizes=(3, 4, 6, 3), block=Bottleneck)
ResNet101 = functools.partial(ResNet, stage_sizes=(3, 4, 23, 3), block=Bottleneck)
# A ResNet-50-shaped net (bottlenecks, four strides, 2048/... scaled down) for fast tests.
ResNetTiny = functools.partial(ResNet, stage_sizes=(1, 1, 1, 1), block=Bottleneck, width=8)


def feature_channels(model: ResNet) -> dict[str, int]:
  """Channels of each returned feature map, e.g. {'stride4': 256, ..., 'pool5': 2048}."""
  expansion = 4 if model.block is Bottleneck else 1
  chans = {f"stride{4 * 2**i}": model.width * 2**i * expansion for i in range(len(model.stage_sizes))}
  chans["pool5"] = chans[f"stride{4 * 2**(len(model.stage_sizes) - 1)}"]
  return chans


from jaxvis.nn.resnet_import import (from_keras, from_keras_layers, load_keras_h5,  # noqa: E402,F401
                                    load_safetensors)
