"""Stacked convolutional auto-encoder (Masci et al. 2011) as used by Liu, Kato & Tanaka.

Encoding process k: conv k x k "valid" + activation + max-pool.
Decoding process k: up-sample (nearest) + deconvolution k x k ("full" padding) +
activation. With `tied=True` the deconvolution kernel is the encoder kernel
flipped over both spatial axes with input and output channels swapped (the
`W~` of Masci et al.), so a decoding process is the transpose of its encoding
convolution; with `tied=False` it has its own kernel.

Table 2 of the paper (the default, `StackedCAE()`):
  100x100x3 -conv5-> 96x96x20 -pool-> 48x48x20 -conv5-> 44x44x20 -pool-> 22x22x20
  and back: up 44x44x20 -deconv5-> 48x48x20, up 96x96x20 -deconv5-> 100x100x3.

Level k's input `i^k` is the image (k=1) or the pooled code of level k-1;
its output `o^k` is what decoding process k produces.
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxvis.errors import InputError

ACTIVATIONS = {
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "elu": jax.nn.elu,
    "linear": lambda x: x,
}

_DN = ("NHWC", "HWIO", "NHWC")


def _activation(name: str, arg: str):
  if name not in ACTIVATIONS:
    raise ValueError(f"{arg}: expected one of {sorted(ACTIVATIONS)}, got {name!r}")
  return ACTIVATIONS[name]


def flip_kernel(kernel: jax.Array) -> jax.Array:
  """HWIO encoder kernel -> the tied decoder kernel: flipped in H and W, I/O swapped."""
  return jnp.transpose(kernel[::-1, ::-1], (0, 1, 3, 2))


class EncodingProcess(nn.Module):
  """Conv (valid) + activation + max-pool.

  Attributes:
    features: number of feature maps.
    kernel_size: square kernel side.
    pool: max-pool window and stride.
    activation: name in `ACTIVATIONS`.
    dtype: compute dtype (parameters stay float32).
  """
  features: int
  kernel_size: int = 5
  pool: int = 2
  activation: str = "sigmoid"
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    kernel, bias = self.variables_for(x.shape[-1])
    y = jax.lax.conv_general_dilated(x.astype(self.dtype), kernel.astype(self.dtype), (1, 1),
                                     "VALID", dimension_numbers=_DN)
    y = _activation(self.activation, "activation")(y + bias.astype(self.dtype))
    if self.pool > 1:
      y = nn.max_pool(y, (self.pool, self.pool), strides=(self.pool, self.pool))
    return y

  def variables_for(self, in_features: int):
    k = self.kernel_size
    kernel = self.param("kernel", nn.initializers.glorot_uniform(),
                        (k, k, in_features, self.features), jnp.float32)
    bias = self.param("bias", nn.initializers.zeros, (self.features,), jnp.float32)
    return kernel, bias


class DecodingProcess(nn.Module):
  """Up-sample + deconvolution ("full" conv) + activation.

  Attributes:
    features: output maps (the channels of the level's input).
    kernel_size: square kernel side.
    pool: up-sampling factor (the encoder's pool).
    activation: name in `ACTIVATIONS`.
    tied: use the flipped encoder kernel passed to `__call__`.
    dtype: compute dtype.
  """
  features: int
  kernel_size: int = 5
  pool: int = 2
  activation: str = "sigmoid"
  tied: bool = True
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, h: jax.Array, encoder_kernel: jax.Array | None = None) -> jax.Array:
    k = self.kernel_size
    if self.tied:
      if encoder_kernel is None:
        raise InputError("encoder_kernel", "a tied decoding process needs its encoder's kernel")
      kernel = flip_kernel(encoder_kernel)
    else:
      kernel = self.param("kernel", nn.initializers.glorot_uniform(),
                          (k, k, h.shape[-1], self.features), jnp.float32)
    bias = self.param("bias", nn.initializers.zeros, (self.features,), jnp.float32)
    if self.pool > 1:
      h = jnp.repeat(jnp.repeat(h, self.pool, axis=1), self.pool, axis=2)
    y = jax.lax.conv_general_dilated(h.astype(self.dtype), kernel.astype(self.dtype), (1, 1),
                                     [(k - 1, k - 1), (k - 1, k - 1)], dimension_numbers=_DN)
    return _activation(self.activation, "activation")(y + bias.astype(self.dtype))


class StackedCAE(nn.Module):
  """A stack of convolutional auto-encoders (encoding and decoding processes).

  Attributes:
    features: feature maps per encoding process (Table 2: (20, 20)).
    kernel_size: kernel side for every process (Table 2: 5).
    pool: max-pool / up-sampling factor (Table 2: 2).
    activation: encoder and inner decoder activation.
    image_activation: activation of decoding process 1 (reconstructs the image).
    tied: decoder kernels tied to the flipped encoder kernels (Masci et al.).
    image_channels: channels of the input image.
    dtype: compute dtype (float32 or bfloat16); parameters are float32.
  """
  features: Sequence[int] = (20, 20)
  kernel_size: int = 5
  pool: int = 2
  activation: str = "sigmoid"
  image_activation: str = "sigmoid"
  tied: bool = True
  image_channels: int = 3
  dtype: Any = jnp.float32

  def setup(self):
    if not self.features:
      raise InputError("features", "expected at least one encoding process")
    _activation(self.activation, "activation")
    _activation(self.image_activation, "image_activation")
    self.encoders = [EncodingProcess(f, self.kernel_size, self.pool, self.activation,
                                     self.dtype, name=f"encoder{k + 1}")
                     for k, f in enumerate(self.features)]
    ins = (self.image_channels,) + tuple(self.features[:-1])
    self.decoders = [DecodingProcess(c, self.kernel_size, self.pool,
                                     self.image_activation if k == 0 else self.activation,
                                     self.tied, self.dtype, name=f"decoder{k + 1}")
                     for k, c in enumerate(ins)]

  @property
  def num_levels(self) -> int:
    return len(self.features)

  def encode_level(self, x: jax.Array, level: int) -> jax.Array:
    """Encoding process `level` (1-based): i^level -> i^(level+1)."""
    return self.encoders[level - 1](x)

  def decode_level(self, h: jax.Array, level: int) -> jax.Array:
    """Decoding process `level` (1-based): code of that level -> o^level."""
    kernel = self.encoders[level - 1].variables["params"]["kernel"] if self.tied else None
    return self.decoders[level - 1](h, kernel)

  def encode(self, images: jax.Array, upto: int | None = None) -> list[jax.Array]:
    """[i^1 = images, i^2, ..., i^(upto+1)]: every level's input and the top code."""
    upto = self.num_levels if upto is None else upto
    xs = [images]
    for level in range(1, upto + 1):
      xs.append(self.encode_level(xs[-1], level))
    return xs

  def decode(self, code: jax.Array, top: int | None = None) -> list[jax.Array]:
    """Decodes from level `top` down to 1: returns [o^1, ..., o^top]."""
    top = self.num_levels if top is None else top
    outs = []
    h = code
    for level in range(top, 0, -1):
      h = self.decode_level(h, level)
      outs.append(h)
    return outs[::-1]

  def reconstruct_level(self, x: jax.Array, level: int) -> jax.Array:
    """One auto-encoder on its own (greedy training): i^level -> o^level."""
    return self.decode_level(self.encode_level(x, level), level)

  def features_of(self, images: jax.Array) -> jax.Array:
    """The top-level code (the representation used for clustering and ranking)."""
    return self.encode(images)[-1]

  def __call__(self, images: jax.Array) -> tuple[list[jax.Array], list[jax.Array]]:
    """Full stack: returns ([i^1..i^n], [o^1..o^n]) with o^k decoded from the top code."""
    xs = self.encode(images)
    return xs[:-1], self.decode(xs[-1])


def check_image_size(model: StackedCAE, height: int, width: int) -> None:
  """Raises if some level's conv output is not divisible by the pool (decoder would not fit)."""
  h, w = height, width
  for level in range(1, len(model.features) + 1):
    h, w = h - model.kernel_size + 1, w - model.kernel_size + 1
    if h <= 0 or w <= 0 or h % model.pool or w % model.pool:
      raise ValueError(
          f"images: a {height}x{width} input gives a {h}x{w} conv output at level {level}, "
          f"which must be positive and divisible by pool={model.pool} "
          "(Table 2 uses 100x100 with two levels)")
    h, w = h // model.pool, w // model.pool
