"""Layers shared by the families' networks.

`PointwiseConv` is a 1x1 convolution computed as a matmul over the channel axis. It is a drop-in
for `nn.Conv(features, (1, 1), strides)`: the same parameters ("kernel" (1, 1, in, features),
"bias" (features,)), initialisers and dtype promotion, so checkpoints and weight importers see
no difference. Why: XLA:CPU lowers a 1x1 `conv_general_dilated` to its generic convolution
kernel, which ran 2-6x slower than the same contraction as a dot on the 2-core development CPU
(e.g. 448 -> 48 channels at 56x56, batch 32: 224 ms vs 36 ms); on GPU/TPU both forms become
one GEMM. ResNet bottlenecks are two-thirds 1x1 convolutions, so this is most of their time.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp


class PointwiseConv(nn.Module):
  """1x1 convolution (optionally strided: it reads every `strides`-th pixel) as a channel matmul.

  Attributes:
    features: output channels.
    strides: spatial stride (int or (sy, sx)); like `nn.Conv` with "SAME" padding, the output
      is ceil(H / sy) x ceil(W / sx).
    use_bias: add a learned bias.
    dtype: compute dtype (None: the promoted dtype of input and parameters, as `nn.Conv`).
    param_dtype: parameter dtype.
    kernel_init, bias_init: `nn.Conv`'s defaults.
  """
  features: int
  strides: int | tuple[int, int] = 1
  use_bias: bool = True
  dtype: Any = None
  param_dtype: Any = jnp.float32
  kernel_init: Any = nn.initializers.lecun_normal()
  bias_init: Any = nn.initializers.zeros

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    sy, sx = (self.strides, self.strides) if isinstance(self.strides, int) else self.strides
    kernel = self.param("kernel", self.kernel_init, (1, 1, x.shape[-1], self.features), self.param_dtype)
    bias = self.param("bias", self.bias_init, (self.features,), self.param_dtype) if self.use_bias else None
    x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias, dtype=self.dtype)
    if sy > 1 or sx > 1:
      x = x[..., ::sy, ::sx, :]
    y = jnp.einsum("...c,cf->...f", x, kernel[0, 0])
    return y if bias is None else y + bias


def conv(features: int, kernel_size, strides=1, **kw) -> nn.Module:
  """`nn.Conv(features, kernel_size, strides, **kw)`, or `PointwiseConv` when the kernel is 1x1
  (only for its default "SAME"/"VALID"-equivalent padding; explicit padding keeps `nn.Conv`)."""
  size = tuple(kernel_size) if not isinstance(kernel_size, int) else (kernel_size, kernel_size)
  padding = kw.get("padding", "SAME")
  if size == (1, 1) and padding in ("SAME", "VALID", 0, ((0, 0), (0, 0))):
    kw.pop("padding", None)
    return PointwiseConv(features, strides if not isinstance(strides, (tuple, list)) else tuple(strides), **kw)
  return nn.Conv(features, size, strides, **kw)
