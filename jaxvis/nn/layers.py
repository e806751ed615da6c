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


class BlockConv3x3(nn.Module):
  """A VALID, stride-1 3x3 convolution computed on 2x2 blocks (space-to-depth), for CPUs.

  The input's 2x2 pixel blocks become channels (C -> 4C) and the 3x3 kernel a 2x2
  kernel producing the 4 outputs of each block at once (4C -> 4F; 1.8x the
  multiply-adds). XLA:CPU's convolution is far faster on those wider channels: P-Net's
  16 -> 32 conv3 on a 640x480 pyramid mosaic took 19 ms this way against 34-83 ms
  (load 2-5), and conv1 + its 2x2 max-pool 9.5 ms against 21 ms (`blocks=True`). On
  GPUs the plain convolution is used (`jaxvis.faces.nets`): there the block form only
  adds work. Parameters are `nn.Conv(features, (3, 3), padding="VALID")`'s ("kernel"
  (3, 3, C, F), "bias" (F,), same initialisers and dtype promotion), so weights load
  and train the same either way.

  Call with (N, H, W, C), H, W >= 3. Returns the (N, H - 2, W - 2, F) output, or with
  `blocks=True` the (N, ceil((H - 2) / 2), ceil((W - 2) / 2), 2, 2, F) blocks whose
  [n, i, j, a, b] is output pixel (2i + a, 2j + b) (past the edge when H or W is odd:
  the caller masks those).
  """
  features: int
  blocks: bool = False
  use_bias: bool = True
  dtype: Any = None
  param_dtype: Any = jnp.float32
  kernel_init: Any = nn.initializers.lecun_normal()
  bias_init: Any = nn.initializers.zeros

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    n, h, w, c = x.shape
    kernel = self.param("kernel", self.kernel_init, (3, 3, c, self.features), self.param_dtype)
    bias = self.param("bias", self.bias_init, (self.features,), self.param_dtype) if self.use_bias else None
    x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias, dtype=self.dtype)
    hb, wb = -(-(h - 2) // 2), -(-(w - 2) // 2)                   # output blocks
    x = jnp.pad(x, [(0, 0), (0, 2 * hb + 2 - h), (0, 2 * wb + 2 - w), (0, 0)])
    x = x.reshape(n, hb + 1, 2, wb + 1, 2, c).transpose(0, 1, 3, 2, 4, 5).reshape(n, hb + 1, wb + 1, 4 * c)
    y = jax.lax.conv_general_dilated(x, _block_kernel(kernel), (1, 1), "VALID",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
    y = y.reshape(n, hb, wb, 2, 2, self.features)
    if bias is not None:
      y = y + bias
    if self.blocks:
      return y
    return y.transpose(0, 1, 3, 2, 4, 5).reshape(n, 2 * hb, 2 * wb, self.features)[:, :h - 2, :w - 2]


def _block_kernel(kernel: jax.Array) -> jax.Array:
  """(3, 3, C, F) -> (2, 2, 4C, 4F): input channel (ri, rj, c), output channel (a, b, f)."""
  c, f = kernel.shape[2:]
  subs = []
  for a in range(2):
    for b in range(2):
      k = jnp.pad(kernel, [(a, 1 - a), (b, 1 - b), (0, 0), (0, 0)])   # k[py, px] = kernel[py - a, px - b]
      subs.append(k.reshape(2, 2, 2, 2, c, f).transpose(0, 2, 1, 3, 4, 5).reshape(2, 2, 4 * c, f))
  return jnp.stack(subs, axis=-2).reshape(2, 2, 4 * c, 4 * f)
