"""Foundation section of `jaxvis demo`: the ResNet-50 port on bundled real photos.

No ImageNet weights ship with any installed package, so the section shows what
can be shown honestly offline: the port agreeing with Keras' own ResNet-50
(identical random weights) on real photos, its feature maps at every stride
(first principal components as RGB), and its throughput here.
"""

from __future__ import annotations

import time

import jax
import numpy as np

from jaxvis.nn import resnet
from jaxvis.nn.variables import init_variables

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")


def load_photos(size: int = 224) -> tuple[list[str], np.ndarray]:
  """skimage's bundled photos, resized to (size, size), as uint8 NHWC."""
  from skimage import data as skdata

  from jaxvis.data.images import resized_rgb
  images = [resized_rgb(getattr(skdata, n)(), size) for n in PHOTOS]
  return list(PHOTOS), np.stack(images)


def _pca_rgb(fmap: np.ndarray) -> np.ndarray:
  """Projects an (H, W, C) feature map on its first 3 principal components, scaled to [0, 1]."""
  flat = fmap.reshape(-1, fmap.shape[-1]).astype(np.float64)
  flat = flat - flat.mean(0)
  _, _, vt = np.linalg.svd(flat, full_matrices=False)
  proj = flat @ vt[:3].T
  lo, hi = np.percentile(proj, 1, axis=0), np.percentile(proj, 99, axis=0)
  return np.clip((proj - lo) / np.maximum(hi - lo, 1e-9), 0, 1).reshape(*fmap.shape[:2], 3)


def _keras_parity(x: np.ndarray):
  """Max |logit difference| against keras.applications.ResNet50 with the same weights."""
  from jaxvis.nn import keras_reference
  try:
    ref = keras_reference.run(x)
  except (RuntimeError, OSError) as e:  # keras missing (no dev extra) or failed
    return None, str(e).splitlines()[-1] if str(e) else "keras unavailable"
  variables = resnet.from_keras_layers(ref["layers"])
  return variables, float(np.abs(ref["jaxvis_logits"] - ref["keras_logits"]).max())


def section(report, quick: bool = False) -> None:
  import matplotlib.pyplot as plt
  report.section("Foundation: the ResNet-50 port on real photos")
  names, photos = load_photos()
  if quick:
    names, photos = names[:2], photos[:2]
  x = np.asarray(resnet.preprocess(photos, "caffe"))
  variables, diff = _keras_parity(x)
  model = resnet.ResNet50()
  if variables is None:
    variables = init_variables(model, jax.random.key(0), x[:1])
    report.text(f"Keras reference unavailable ({diff}): parity check skipped (install the dev extra).")
  else:
    report.text(f"jaxvis.nn.resnet.ResNet50 vs keras.applications.ResNet50 (same random weights, "
                f"imported with resnet.from_keras) on {len(names)} skimage photos "
                f"({', '.join(names)}): max |logit difference| = {diff:.2e}.")
  forward = jax.jit(lambda v, x: model.apply(v, x, return_features=True))
  t0 = time.perf_counter()
  jax.block_until_ready(forward(variables, x))
  compile_s = time.perf_counter() - t0
  t0 = time.perf_counter()
  _, feats = jax.block_until_ready(forward(variables, x))
  per_s = len(x) / (time.perf_counter() - t0)
  report.text(f"Forward at 224x224, batch {len(x)}, float32 on {jax.devices()[0].platform}: "
              f"{per_s:.1f} images/s (compile {compile_s:.1f} s).")
  strides = ("stride4", "stride8", "stride16", "stride32")
  fig, axes = plt.subplots(len(names), 1 + len(strides), figsize=(2.2 * (1 + len(strides)), 2.2 * len(names)))
  for i, name in enumerate(names):
    axes[i, 0].imshow(photos[i])
    axes[i, 0].set_title(name, fontsize=8)
    for j, s in enumerate(strides):
      fmap = np.asarray(feats[s][i])
      axes[i, j + 1].imshow(_pca_rgb(fmap), interpolation="nearest")
      axes[i, j + 1].set_title(f"{s} {fmap.shape[0]}x{fmap.shape[1]}x{fmap.shape[2]}", fontsize=8)
  for ax in axes.ravel():
    ax.axis("off")
  report.figure(fig, "foundation_resnet50_features",
                "Each photo and its ResNet-50 feature maps (first 3 principal components as RGB) "
                "at strides 4, 8, 16, 32: the maps that the saliency masking model taps as U-Net skips.")
