"""The four MTCNN networks as Linen modules: P-Net, R-Net, O-Net and L-Net.

Inputs are NHWC images normalised as `(x - 127.5) / 128` (RGB). Each module
returns raw outputs: box deltas, face logits (softmax them for a probability)
and, for O-Net, 10 landmark values `(x1..x5, y1..y5)` relative to the box.
Layer names and shapes follow the Keras models of the `mtcnn` package, so its
pretrained weights load one to one (see `weights.py`); the dense layers see the
feature map flattened in (W, H, C) order, as that package's `Permute((2, 1, 3))`
does (its weights were converted from the authors' Caffe models that way).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxvis.nn import layers

Dtype = Any


class PReLU(nn.Module):
  """Parametric ReLU with one slope per channel (last axis), init 0.25."""
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    alpha = self.param("alpha", nn.initializers.constant(0.25), (x.shape[-1],), jnp.float32)
    alpha = alpha.astype(self.dtype)
    return jnp.where(x >= 0, x, alpha * x)


def _conv(features: int, kernel: int, name: str, dtype: Dtype) -> nn.Module:
  # 1x1 (P-Net's heads): layers.PointwiseConv, a matmul with nn.Conv's parameters.
  return layers.conv(features, (kernel, kernel), padding="VALID", name=name, dtype=dtype,
                     param_dtype=jnp.float32)


def _dense(features: int, name: str, dtype: Dtype) -> nn.Dense:
  return nn.Dense(features, name=name, dtype=dtype, param_dtype=jnp.float32)


def _pool(x, window: int, padding: str):
  # TF "SAME" max-pooling pads with -inf at the end: the Caffe ceil-mode pooling.
  return nn.max_pool(x, (window, window), strides=(2, 2), padding=padding)


def _blocks(conv_impl: str) -> bool:
  """Whether the first 3x3 convolutions run on 2x2 blocks (`layers.BlockConv3x3`): "blocks",
  "plain", or "auto" = blocks on a CPU backend, where XLA's 3-channel convolutions are slow
  (P-Net's conv1 + pool 21 -> 9.5 ms, R-Net's conv1 over 256 crops 16 -> 7.5 ms); the plain
  form elsewhere (the H100 figures are its)."""
  if conv_impl not in ("auto", "plain", "blocks"):
    raise ValueError(f"conv_impl: expected 'auto', 'plain' or 'blocks', got {conv_impl!r}")
  return conv_impl == "blocks" or (conv_impl == "auto" and jax.default_backend() == "cpu")


def _first_conv(features: int, blocks: bool, dtype: Dtype) -> nn.Module:
  if blocks:
    return layers.BlockConv3x3(features, name="conv1", dtype=dtype, param_dtype=jnp.float32)
  return _conv(features, 3, "conv1", dtype)


def _flatten_wh(x):
  """Flattens (N, H, W, C) in (W, H, C) order, as the Keras models do."""
  return jnp.transpose(x, (0, 2, 1, 3)).reshape((x.shape[0], -1))


class PNet(nn.Module):
  """Proposal network: fully convolutional, one 12x12 window per output cell.

  Output cell (i, j) sees input rows 2i..2i+11 and columns 2j..2j+11.

  `conv_impl`: "plain" convolutions, or "blocks" — conv1 (with its max-pool) and
  conv3 as 2x2 convolutions over space-to-depth blocks (`layers.BlockConv3x3`),
  2-4x faster under XLA:CPU, equal to 2e-6; "auto" (default) picks "blocks" on a
  CPU backend and "plain" elsewhere (the H100 figures are the plain form's).
  Parameters are the same either way.
  """
  dtype: Dtype = jnp.float32
  conv_impl: str = "auto"

  @nn.compact
  def __call__(self, x, conv1_mask: jax.Array | None = None):
    """Runs P-Net.

    Args:
      x: (N, H, W, 3) normalised images, H, W >= 12.
      conv1_mask: optional (N, H - 2, W - 2) bool: conv1 outputs to treat as
        padding (False) in the first max-pool. With images packed into a padded
        canvas or a pyramid mosaic, masking everything beyond each image's
        extent makes its output cells equal those of the image run alone.

    Returns:
      (deltas (N, h, w, 4), logits (N, h, w, 2)) with h = ceil((H - 2) / 2) - 4.
    """
    if x.ndim != 4 or x.shape[-1] != 3:
      raise ValueError(f"x: expected (N, H, W, 3) images, got shape {x.shape}")
    if x.shape[1] < 12 or x.shape[2] < 12:
      raise ValueError(f"x: P-Net needs images of at least 12x12, got {x.shape[1:3]}")
    blocks = _blocks(self.conv_impl)
    d = self.dtype
    x = x.astype(d)
    if blocks:
      x = _conv1_pooled_blocks(x, conv1_mask, d)
      conv3 = layers.BlockConv3x3(32, name="conv3", dtype=d, param_dtype=jnp.float32)
    else:
      x = PReLU(d, name="prelu1")(_conv(10, 3, "conv1", d)(x))
      if conv1_mask is not None:
        x = jnp.where(conv1_mask[..., None], x, -jnp.inf)
      x = _pool(x, 2, "SAME")
      conv3 = _conv(32, 3, "conv3", d)
    x = PReLU(d, name="prelu2")(_conv(16, 3, "conv2", d)(x))
    x = PReLU(d, name="prelu3")(conv3(x))
    deltas = _conv(4, 1, "conv4_1", d)(x)
    logits = _conv(2, 1, "conv4_2", d)(x)
    return deltas.astype(jnp.float32), logits.astype(jnp.float32)


def _conv1_pooled_blocks(x, conv1_mask, dtype):
  """P-Net's conv1 -> PReLU -> mask -> 2x2 max-pool (SAME), with conv1 in 2x2 blocks.

  Each output block holds the four conv1 pixels one pool window covers, so the pool
  is a max over the block; pixels past the conv1 output (odd sizes) or outside the
  mask are -inf there, as SAME pooling pads.
  """
  n, h, w, _ = x.shape
  y = layers.BlockConv3x3(10, blocks=True, name="conv1", dtype=dtype, param_dtype=jnp.float32)(x)
  y = PReLU(dtype, name="prelu1")(y)                                # (N, hb, wb, 2, 2, 10)
  hb, wb = y.shape[1:3]
  if conv1_mask is None:
    conv1_mask = jnp.ones((n, h - 2, w - 2), bool)
  m = jnp.pad(conv1_mask, [(0, 0), (0, 2 * hb - (h - 2)), (0, 2 * wb - (w - 2))])
  m = m.reshape(n, hb, 2, wb, 2).transpose(0, 1, 3, 2, 4)
  pooled = jnp.where(m[..., None], y, -jnp.inf).max(axis=(3, 4))
  # A window with no valid pixel pools to -inf. No valid output cell reads one, but the
  # block conv3 multiplies its neighbours' pixels by zero weights, and 0 * -inf = NaN
  # would reach valid cells: such windows become 0 instead (only invalid cells differ).
  return jnp.where(jnp.isneginf(pooled), 0.0, pooled).astype(pooled.dtype)


class RNet(nn.Module):
  """Refinement network on 24x24 crops (`conv_impl`: as P-Net's, for conv1)."""
  dtype: Dtype = jnp.float32
  conv_impl: str = "auto"

  @nn.compact
  def __call__(self, x):
    """(N, 24, 24, 3) -> (deltas (N, 4), logits (N, 2))."""
    if x.ndim != 4 or x.shape[1:] != (24, 24, 3):
      raise ValueError(f"x: expected (N, 24, 24, 3) crops, got shape {x.shape}")
    d = self.dtype
    x = x.astype(d)
    x = _pool(PReLU(d, name="prelu1")(_first_conv(28, _blocks(self.conv_impl), d)(x)), 3, "SAME")
    x = _pool(PReLU(d, name="prelu2")(_conv(48, 3, "conv2", d)(x)), 3, "VALID")
    x = PReLU(d, name="prelu3")(_conv(64, 2, "conv3", d)(x))
    x = PReLU(d, name="prelu4")(_dense(128, "fc4", d)(_flatten_wh(x)))
    deltas = _dense(4, "fc5_1", d)(x)
    logits = _dense(2, "fc5_2", d)(x)
    return deltas.astype(jnp.float32), logits.astype(jnp.float32)


class ONet(nn.Module):
  """Output network on 48x48 crops: box, landmarks and face score.

  Attributes:
    dtype: compute dtype.
    num_landmarks: points regressed (5 face landmarks; 4 corners for QR codes).
    conv_impl: as P-Net's, for conv1.
  """
  dtype: Dtype = jnp.float32
  num_landmarks: int = 5
  conv_impl: str = "auto"

  @nn.compact
  def __call__(self, x):
    """(N, 48, 48, 3) -> (deltas (N, 4), landmarks (N, 2 * num_landmarks), logits (N, 2)).

    Landmarks are `(x1..xL, y1..yL)` as fractions of the input box; for faces in
    the order left eye, right eye, nose, left mouth corner, right mouth corner.
    """
    if x.ndim != 4 or x.shape[1:] != (48, 48, 3):
      raise ValueError(f"x: expected (N, 48, 48, 3) crops, got shape {x.shape}")
    d = self.dtype
    x = x.astype(d)
    x = _pool(PReLU(d, name="prelu1")(_first_conv(32, _blocks(self.conv_impl), d)(x)), 3, "SAME")
    x = _pool(PReLU(d, name="prelu2")(_conv(64, 3, "conv2", d)(x)), 3, "VALID")
    x = _pool(PReLU(d, name="prelu3")(_conv(64, 3, "conv3", d)(x)), 2, "SAME")
    x = PReLU(d, name="prelu4")(_conv(128, 2, "conv4", d)(x))
    x = PReLU(d, name="prelu5")(_dense(256, "fc5", d)(_flatten_wh(x)))
    deltas = _dense(4, "fc6_1", d)(x)
    landmarks = _dense(2 * self.num_landmarks, "fc6_2", d)(x)
    logits = _dense(2, "fc6_3", d)(x)
    return deltas.astype(jnp.float32), landmarks.astype(jnp.float32), logits.astype(jnp.float32)


class LNet(nn.Module):
  """Landmark refinement network (MTCNN v2 "det4"): five 24x24 patches, one per landmark.

  Each patch goes through its own small conv tower (28-48-64 channels as R-Net);
  the five feature vectors are concatenated into a shared 256-unit layer, and a
  64-unit head per landmark regresses that landmark's (x, y) inside its patch
  as a fraction of the patch side (0.5 = the patch centre = no move).
  """
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    """(N, 5, 24, 24, 3) patches -> (N, 5, 2) positions in [0, 1] patch units."""
    if x.ndim != 5 or x.shape[1:] != (5, 24, 24, 3):
      raise ValueError(f"x: expected (N, 5, 24, 24, 3) landmark patches, got shape {x.shape}")
    d = self.dtype
    x = x.astype(d)
    feats = []
    for k in range(5):
      h = _pool(PReLU(d, name=f"prelu1_{k}")(_conv(28, 3, f"conv1_{k}", d)(x[:, k])), 3, "SAME")
      h = _pool(PReLU(d, name=f"prelu2_{k}")(_conv(48, 3, f"conv2_{k}", d)(h)), 3, "VALID")
      h = PReLU(d, name=f"prelu3_{k}")(_conv(64, 2, f"conv3_{k}", d)(h))
      feats.append(_flatten_wh(h))
    h = PReLU(d, name="prelu4")(_dense(256, "fc4", d)(jnp.concatenate(feats, axis=-1)))
    outs = []
    for k in range(5):
      hk = PReLU(d, name=f"prelu5_{k}")(_dense(64, f"fc5_{k}", d)(h))
      outs.append(_dense(2, f"fc6_{k}", d)(hk))
    return jnp.stack(outs, axis=1).astype(jnp.float32)
