"""The masking model of Dabkowski & Gal (2017): a class-conditioned U-Net that predicts a saliency mask.

Encoder (frozen ResNet-50, or a small conv encoder trained from scratch) -> feature filter
`Y_ij = X_ij * sigmoid(X_ij^T C_s)` on the coarsest map -> upsampler blocks (x2 transposed
conv, concat the encoder skip, bottleneck blocks) -> 1x1 conv to two channels ->
`M = |c0| / (|c0| + |c1|)` -> bilinear resize to the input size.

Both variants share `MaskingModel`; `MaskingConfig` says which encoder and how wide.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxvis.nn import layers, resnet
from jaxvis.nn.classifiers import SmallCNN
from jaxvis.nn.variables import init_variables
from jaxvis.errors import InputError

ENCODERS = ("small", "resnet50", "resnet_tiny", "small_cnn", "external")
_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16}


@dataclasses.dataclass(frozen=True)
class MaskingConfig:
  """Architecture of a masking model (hashable: it is static under jit).

  Attributes:
    num_classes: number of class selectors (rows of the class embedding C).
    encoder: "small" (3 down blocks trained from scratch, the paper's CIFAR-10 model),
      "resnet50" (frozen ResNet-50, the paper's ImageNet model), "resnet_tiny" (a
      ResNet-50-shaped encoder for tests) or "small_cnn" (the conv stages of a trained, frozen
      `jaxvis.nn.classifiers.SmallCNN`, e.g. the black box's own: the paper's ImageNet design of a
      pretrained classifier as the encoder, for small images; see `on_small_cnn`) or "external"
      (any classifier's feature maps, computed outside and passed as `features`; see
      `jaxvis.saliency.adapter`).
    in_channels: image channels.
    small_widths: channels of the small encoder's down blocks (or of the SmallCNN's stages).
    convs_per_block: 3x3 convs per small down block (paper: 5) or per SmallCNN stage.
    upsampler_base: channels of the first upsampler block; each next one halves them (paper: 768).
    num_upsamplers: upsampler blocks; the mask comes out at 1/(bottom_stride / 2^num_upsamplers)
      of the input size (ResNet: 3 blocks, stride 32 -> 4, as in the paper).
    bottlenecks_per_upsampler: bottleneck blocks after each skip concat (paper: 3 ImageNet, 1 CIFAR).
    resnet_variant: "v1" (Keras weights) or "v1.5" (torchvision weights).
    cnn_stem_stride, cnn_standardize, cnn_group_norm: the "small_cnn" encoder's SmallCNN options.
    external_strides: the "external" encoder's map strides (e.g. (8, 16, 32)); the largest feeds
      the feature filter, the others are skips.
    upsample_kernel: the upsamplers' x2 transposed conv is 3x3 (3) or 2x2 (2: U-Net's
      "2x2 up-convolution", non-overlapping, 2.25x fewer multiply-adds).
    shortcut: first bottleneck after the skip concat: "projection" (ResNet's 1x1 projection of
      the whole concat, the widths differ) or "upsampled" (identity on the upsampled channels; the
      skip only feeds the residual branch: no 1x1 conv over ~2.3x `features` channels).
  The paper leaves both open; `imagenet()` takes 2x2 and "upsampled" (see its docstring).
  """
  num_classes: int = 1000
  encoder: str = "resnet50"
  in_channels: int = 3
  small_widths: tuple[int, ...] = (64, 128, 256)
  convs_per_block: int = 5
  upsampler_base: int = 768
  num_upsamplers: int = 3
  bottlenecks_per_upsampler: int = 3
  resnet_variant: str = "v1"
  cnn_stem_stride: int = 1
  cnn_standardize: bool = False
  cnn_group_norm: bool = False
  upsample_kernel: int = 3
  shortcut: str = "projection"
  external_strides: tuple[int, ...] = ()

  def __post_init__(self):
    if self.upsample_kernel not in (2, 3):
      raise InputError("upsample_kernel", f"expected 2 or 3, got {self.upsample_kernel}")
    if self.shortcut not in ("projection", "upsampled"):
      raise InputError("shortcut", f"expected 'projection' or 'upsampled', got {self.shortcut!r}")
    if self.encoder not in ENCODERS:
      raise InputError("encoder", f"expected one of {ENCODERS}, got {self.encoder!r}")
    if self.encoder == "external" and (not self.external_strides or min(self.external_strides) < 1
                                       or len(set(self.external_strides)) != len(self.external_strides)):
      raise InputError("external_strides", f"expected distinct positive strides, got {self.external_strides}")
    if self.num_classes < 1:
      raise InputError("num_classes", f"expected >= 1, got {self.num_classes}")
    if not 1 <= self.num_upsamplers <= len(self.skip_strides):
      raise InputError("num_upsamplers", f"expected 1..{len(self.skip_strides)} for encoder "
                       f"{self.encoder!r}, got {self.num_upsamplers}")

  @property
  def frozen_encoder(self) -> bool:
    """Pretrained encoders stay fixed during training; only "small" trains from scratch."""
    return self.encoder != "small"

  @property
  def bottom_stride(self) -> int:
    if self.encoder == "external":
      return max(self.external_strides)
    if self.encoder == "small":
      return 2 ** len(self.small_widths)
    if self.encoder == "small_cnn":
      return self.cnn_stem_stride * 2 ** (len(self.small_widths) - 1)
    return 32

  @property
  def skip_strides(self) -> tuple[int, ...]:
    """Strides of the encoder maps available as skips, coarsest first."""
    if self.encoder == "external":
      return tuple(sorted(self.external_strides, reverse=True)[1:])
    if self.encoder == "small":
      return tuple(2**i for i in reversed(range(len(self.small_widths))))
    if self.encoder == "small_cnn":
      return tuple(self.cnn_stem_stride * 2**i for i in reversed(range(len(self.small_widths) - 1)))
    return (16, 8, 4)

  @property
  def mask_stride(self) -> int:
    return self.bottom_stride // 2**self.num_upsamplers

  @classmethod
  def small(cls, num_classes: int, **kw) -> "MaskingConfig":
    """The paper's CIFAR-10 model: 3 down blocks of 5 convs, 1 bottleneck per upsampler."""
    kw = {"encoder": "small", "upsampler_base": 128, "num_upsamplers": 2,
          "bottlenecks_per_upsampler": 1, **kw}
    return cls(num_classes=num_classes, **kw)

  @classmethod
  def on_small_cnn(cls, cnn: SmallCNN, **kw) -> "MaskingConfig":
    """A masking model whose frozen encoder is `cnn`'s conv stages (load its trained variables
    with `train.set_encoder_variables`); upsamplers up to the first stage's resolution."""
    kw = {"upsampler_base": cnn.widths[-1], "num_upsamplers": len(cnn.widths) - 1,
          "bottlenecks_per_upsampler": 1, **kw}
    return cls(num_classes=cnn.num_classes, encoder="small_cnn", in_channels=cnn.in_channels,
               small_widths=tuple(cnn.widths), convs_per_block=cnn.convs_per_stage,
               cnn_stem_stride=cnn.stem_stride, cnn_standardize=cnn.standardize,
               cnn_group_norm=cnn.group_norm, **kw)

  def small_cnn(self, **kw) -> SmallCNN:
    """The "small_cnn" encoder's classifier module (its head is unused); `kw`: module fields."""
    return SmallCNN(self.num_classes, widths=self.small_widths, convs_per_stage=self.convs_per_block,
                    in_channels=self.in_channels, group_norm=self.cnn_group_norm,
                    stem_stride=self.cnn_stem_stride, standardize=self.cnn_standardize, **kw)

  @classmethod
  def imagenet(cls, num_classes: int = 1000, **kw) -> "MaskingConfig":
    """The paper's ImageNet model on a frozen ResNet-50: upsamplers of 768/384/192 channels, 3
    bottlenecks each.

    The paper says its "complexity is comparable to that of ResNet-50" but not the transposed
    conv's kernel nor how the first bottleneck bridges the concat's width. A 3x3 up-conv and a
    projection shortcut make the masking model 2.0x a ResNet-50 forward in FLOPs; the 2x2
    up-convolution of U-Net (which the paper cites for its architecture) and an identity shortcut
    on the upsampled path make it 1.5x (`benchmarks/saliency_model.py` prints both ratios).
    """
    kw = {"upsample_kernel": 2, "shortcut": "upsampled", **kw}
    return cls(num_classes=num_classes, encoder="resnet50", **kw)

  def to_dict(self) -> dict:
    return dataclasses.asdict(self)

  @classmethod
  def from_dict(cls, d: dict) -> "MaskingConfig":
    d = dict(d)
    d["small_widths"] = tuple(d.get("small_widths", (64, 128, 256)))
    d["external_strides"] = tuple(d.get("external_strides", ()))
    return cls(**d)


def compute_dtype(dtype) -> Any:
  if isinstance(dtype, str):
    if dtype not in _DTYPES:
      raise InputError("dtype", f"expected one of {sorted(_DTYPES)}, got {dtype!r}")
    return _DTYPES[dtype]
  return jnp.dtype(dtype).type if dtype is not None else jnp.float32


class SmallEncoder(nn.Module):
  """Down blocks of `convs_per_block` 3x3 conv + BN + ReLU, a 2x2 max-pool after each.

  Returns `{"stride1": ..., "stride2": ..., "stride{2^B}": bottom}`: each block's output
  before pooling is a skip; the last block's pooled output is the bottom map.

  Attributes:
    widths: channels of each block.
    convs_per_block: convs in each block.
    dtype: compute dtype.
  """
  widths: Sequence[int]
  convs_per_block: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    feats = {}
    for i, width in enumerate(self.widths):
      for j in range(self.convs_per_block):
        x = nn.Conv(width, (3, 3), use_bias=False, dtype=self.dtype, name=f"block{i + 1}_conv{j + 1}")(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9, dtype=self.dtype,
                         name=f"block{i + 1}_bn{j + 1}")(x)
        x = nn.relu(x)
      feats[f"stride{2**i}"] = x
      x = nn.max_pool(x, (2, 2), (2, 2))
    feats[f"stride{2**len(self.widths)}"] = x
    return feats


class FeatureFilter(nn.Module):
  """`Y_ij = X_ij * sigmoid(X_ij^T C_s)`: attenuates locations that do not match class s.

  Returns the filtered map and the selector activations `X_ij^T C_s` (N, h, w) in float32,
  which the embedding speed-up term of the objective uses.

  Attributes:
    num_classes: rows of the class embedding C.
    dtype: compute dtype.
  """
  num_classes: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, class_ids):
    c = x.shape[-1]
    embed = nn.Embed(self.num_classes, c, embedding_init=nn.initializers.normal(c**-0.5),
                     name="class_embedding")
    c_s = embed(class_ids).astype(jnp.float32)                        # (N, C)
    act = jnp.einsum("nhwc,nc->nhw", x.astype(jnp.float32), c_s)      # (N, h, w)
    y = x * jax.nn.sigmoid(act)[..., None].astype(x.dtype)
    return y, act


class BottleneckBlock(nn.Module):
  """ResNet bottleneck (1x1 -> 3x3 -> 1x1, BN, projection shortcut when widths differ).

  Attributes:
    features: output channels (the inner width is features // 4).
    dtype: compute dtype.
  """
  features: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool, residual=None):
    """`residual`: the shortcut (`features` channels); default `x`, projected if its width differs."""
    conv = functools.partial(layers.conv, use_bias=False, dtype=self.dtype)  # 1x1: PointwiseConv
    norm = functools.partial(nn.BatchNorm, use_running_average=not train, momentum=0.9, dtype=self.dtype)
    inner = max(self.features // 4, 1)
    if residual is not None:
      if residual.shape[-1] != self.features:
        raise InputError("residual", f"expected {self.features} channels, got {residual.shape}")
    elif x.shape[-1] == self.features:
      residual = x
    else:
      residual = norm(name="proj_bn")(conv(self.features, (1, 1), name="proj_conv")(x))
    y = nn.relu(norm(name="bn1")(conv(inner, (1, 1), name="conv1")(x)))
    y = nn.relu(norm(name="bn2")(conv(inner, (3, 3), name="conv2")(y)))
    y = norm(name="bn3", scale_init=nn.initializers.zeros)(conv(self.features, (1, 1), name="conv3")(y))
    return nn.relu(y + residual)


class StridedConvTranspose(nn.Module):
  """x2 upsampling 3x3 transposed conv, equal to `nn.ConvTranspose(f, (3, 3), (2, 2), "SAME")`, 4x cheaper.

  `nn.ConvTranspose` inserts zeros between the input pixels and runs the 3x3 kernel at the output
  resolution, so 3/4 of its multiply-adds hit inserted zeros. Output pixel (2m + py, 2n + px) only
  sees the taps of one parity: even rows take tap 0 at input row m - 1 and tap 2 at row m, odd
  rows take tap 1 at row m (likewise for columns). Four small convs at the input resolution
  (2x2, 2x1, 1x2 and 1x1 taps) compute exactly those sums. Same parameter as nn.ConvTranspose:
  "kernel" (3, 3, in, features), no bias.

  Attributes:
    features: output channels.
    dtype: compute dtype.
  """
  features: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    kernel = self.param("kernel", nn.initializers.lecun_normal(), (3, 3, x.shape[-1], self.features), jnp.float32)
    x, kernel = x.astype(self.dtype), kernel.astype(self.dtype)
    n, h, w, _ = x.shape
    padded = jnp.pad(x, ((0, 0), (1, 0), (1, 0), (0, 0)))  # row/col -1 for the even phases
    taps = {0: [0, 2], 1: [1]}  # parity -> kernel taps, in order of input offset (-1, 0) or (0,)

    def phase(py: int, px: int) -> jax.Array:
      k = kernel[jnp.array(taps[py])][:, jnp.array(taps[px])]
      return jax.lax.conv_general_dilated(padded[:, py:, px:], k, (1, 1), "VALID",
                                          dimension_numbers=("NHWC", "HWIO", "NHWC"))

    rows = [jnp.stack([phase(py, 0), phase(py, 1)], axis=3) for py in (0, 1)]  # (n, h, w, 2, f) each
    return jnp.stack(rows, axis=2).reshape(n, 2 * h, 2 * w, self.features)


class ConvTranspose2x2(nn.Module):
  """x2 upsampling 2x2 transposed conv (U-Net's up-convolution), equal to
  `nn.ConvTranspose(features, (2, 2), (2, 2), "VALID", use_bias=False)` with the same "kernel"
  (2, 2, in, features): output pixel (2m + p, 2n + q) is `x[m, n] @ kernel[1 - p, 1 - q]`.
  One matmul per output-row parity p gives rows 2m + p already interleaved along the width
  ((n, h, w, q, f) is (n, h, 2w, f) in memory), so only whole rows are interleaved afterwards:
  about 5 % faster for the whole ImageNet masking model on XLA:CPU than one matmul for all
  four phases followed by a general transpose.

  Attributes:
    features: output channels.
    dtype: compute dtype.
  """
  features: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    kernel = self.param("kernel", nn.initializers.lecun_normal(), (2, 2, x.shape[-1], self.features), jnp.float32)
    n, h, w, _ = x.shape
    x, kernel = x.astype(self.dtype), kernel[::-1, ::-1].astype(self.dtype)
    rows = [jnp.einsum("nhwc,qcf->nhwqf", x, kernel[p]).reshape(n, h, 2 * w, self.features) for p in (0, 1)]
    return jnp.stack(rows, axis=2).reshape(n, 2 * h, 2 * w, self.features)


class UpsamplerBlock(nn.Module):
  """x2 transposed conv, concat the encoder skip, then bottleneck blocks.

  Attributes:
    features: output channels.
    num_bottlenecks: bottleneck blocks after the concat.
    upsample_kernel: 3 (`StridedConvTranspose`) or 2 (`ConvTranspose2x2`).
    shortcut: "projection" or "upsampled" (see `MaskingConfig`).
    dtype: compute dtype.
  """
  features: int
  num_bottlenecks: int
  upsample_kernel: int = 3
  shortcut: str = "projection"
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, skip, train: bool):
    up_cls = StridedConvTranspose if self.upsample_kernel == 3 else ConvTranspose2x2
    up = up_cls(self.features, self.dtype, name="upsample")(x)
    up = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9, dtype=self.dtype, name="upsample_bn")(up))
    x = jnp.concatenate([up, skip.astype(up.dtype)], axis=-1)
    for k in range(self.num_bottlenecks):
      residual = up if k == 0 and self.shortcut == "upsampled" else None
      x = BottleneckBlock(self.features, self.dtype, name=f"bottleneck{k + 1}")(x, train, residual)
    return x


def two_channel_mask(chans: jax.Array) -> jax.Array:
  """`|c0| / (|c0| + |c1|)` in float32; 0/0 gives 0.5 (undecided) with a zero, finite gradient."""
  a = jnp.abs(chans[..., 0].astype(jnp.float32))
  b = jnp.abs(chans[..., 1].astype(jnp.float32))
  denom = a + b
  ok = denom > 0
  return jnp.where(ok, a / jnp.where(ok, denom, 1.0), 0.5)


class MaskingModel(nn.Module):
  """Class-conditioned U-Net masking model.

  `__call__(images, class_ids, train)` returns `(mask, aux)`: mask (N, H, W) float32 in [0, 1]
  at the input resolution, and aux with `"mask_lowres"` (at the model's native 1/stride
  resolution) and `"selector_act"` (N, h, w): the feature filter's `X^T C_s`.

  Attributes:
    config: the architecture.
    dtype: compute dtype (bfloat16 on accelerators); parameters stay float32.
  """
  config: MaskingConfig
  dtype: Any = jnp.float32

  def _encode(self, images, train, features):
    cfg = self.config
    if cfg.encoder == "external":
      if features is None:
        raise InputError("features", "an 'external'-encoder masking model needs the classifier's feature maps "
                                     "({'stride8': ..., ...}; see jaxvis.saliency.adapter)")
      want = [f"stride{s}" for s in cfg.external_strides]
      if any(k not in features for k in want):
        raise InputError("features", f"expected maps {want}, got {sorted(features)}")
      return {k: jax.lax.stop_gradient(features[k].astype(self.dtype)) for k in want}
    if cfg.encoder == "small":
      return SmallEncoder(cfg.small_widths, cfg.convs_per_block, self.dtype, name="encoder")(images, train)
    if cfg.encoder == "small_cnn":
      cnn = cfg.small_cnn(dtype=self.dtype, name="encoder")
      return jax.tree.map(jax.lax.stop_gradient, cnn.stage_features(images))
    net = resnet.ResNet50 if cfg.encoder == "resnet50" else resnet.ResNetTiny
    # The ResNet encoder is frozen: always inference-mode BN, and no gradient into it.
    _, feats = net(num_classes=None, variant=cfg.resnet_variant, dtype=self.dtype, name="encoder")(
        images, train=False, return_features=True)
    return jax.tree.map(jax.lax.stop_gradient, feats)

  @nn.compact
  def __call__(self, images, class_ids, train: bool = False, features=None):
    cfg = self.config
    n, h, w, _ = images.shape
    feats = self._encode(images.astype(self.dtype), train, features)
    x, act = FeatureFilter(cfg.num_classes, self.dtype, name="feature_filter")(
        feats[f"stride{cfg.bottom_stride}"], class_ids)
    for k in range(cfg.num_upsamplers):
      skip = feats[f"stride{cfg.skip_strides[k]}"]
      x = UpsamplerBlock(max(cfg.upsampler_base // 2**k, 8), cfg.bottlenecks_per_upsampler, cfg.upsample_kernel,
                         cfg.shortcut, self.dtype, name=f"upsampler{k + 1}")(x, skip, train)
    chans = layers.PointwiseConv(2, dtype=self.dtype, name="to_mask")(x)
    low = two_channel_mask(chans)
    mask = jax.image.resize(low, (n, h, w), method="bilinear")
    return jnp.clip(mask, 0.0, 1.0), {"mask_lowres": low, "selector_act": act}


def build(config: MaskingConfig, dtype="float32") -> MaskingModel:
  """The Linen module for `config` computing in `dtype`."""
  return MaskingModel(config, compute_dtype(dtype))


def init(config: MaskingConfig, rng: jax.Array, image_size: Sequence[int], features=None) -> dict:
  """Initial variables `{"params", "batch_stats"}` for images of `image_size` = (H, W);
  `features`: example maps (batch 1) for an "external" encoder."""
  h, w = int(image_size[0]), int(image_size[1])
  check_spatial_size(config, h, w)
  x = jnp.zeros((1, h, w, config.in_channels), jnp.float32)
  return dict(init_variables(build(config), rng, x, jnp.zeros((1,), jnp.int32), features=features))


def check_spatial_size(config: MaskingConfig, h: int, w: int) -> None:
  s = config.bottom_stride
  if h % s or w % s or h < s or w < s:
    raise InputError("images", f"height and width must be positive multiples of {s} for encoder "
                     f"{config.encoder!r}, got {h}x{w}")
