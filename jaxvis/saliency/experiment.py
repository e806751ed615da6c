"""The shared experiment pipeline: train a black box, train a masking model against it, and score
every saliency method with the paper's protocol. Used by the experiment scripts, the CLI and the demo.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxvis.nn.classifiers import SmallCNN
from jaxvis.saliency import digits as digits_lib
from jaxvis.saliency import evaluate as eval_lib
from jaxvis.saliency import methods as methods_lib
from jaxvis.saliency import model as model_lib
from jaxvis.saliency import objective as obj_lib
from jaxvis.saliency import train as train_lib
from jaxvis.saliency.explainer import MaskingParams, explain
from jaxvis.errors import InputError

METHOD_ORDER = ("masking_model", "gradient", "smoothgrad", "integrated_gradients", "grad_cam", "iterative_mask")
# Also selectable (`include=`, `jaxvis saliency evaluate --methods`); not in the default run: the
# perturbation methods cost hundreds of model calls per image, XRAI a host-side segmentation.
EXTRA_METHODS = ("blur_ig", "occlusion", "xrai")
ALL_METHODS = METHOD_ORDER + EXTRA_METHODS
# The Figure-5 grid's columns (those evaluated): the paper's methods, then the extra ones.
GRID_METHODS = ("masking_model", "gradient", "grad_cam", "iterative_mask") + EXTRA_METHODS


@dataclasses.dataclass(frozen=True)
class SmallExperimentConfig:
  """A from-scratch experiment on small images (cluttered digits, CIFAR-10).

  The defaults are the cluttered-digits setting tuned to finish on a 2-core CPU (see docs/saliency.md).

  Attributes:
    num_classes: classes of the black box (and class selectors of the masking model).
    cnn_widths: black-box SmallCNN stage widths.
    cnn_group_norm, cnn_stem_stride, cnn_standardize: the SmallCNN's normalisation, first-conv
      stride and per-image input standardisation.
    cnn_steps, cnn_batch, cnn_lr: black-box training.
    masking: the masking model; None (default) = the black box's own conv stages, frozen, as the
      encoder (`MaskingConfig.on_small_cnn`: the paper's ImageNet design, a pretrained classifier's
      features under trained upsamplers); a config with encoder "small" trains the whole model
      from scratch (the paper's CIFAR-10 setting, `SCRATCH_MASKING`).
    objective: its objective. Default: the authors' form with a 4-pixel blur for the evidence
      removal (on 64x64 canvases the paper's sigma, 10 px at 224 scaled to 2.9 px, leaves the black
      box 34% accurate on fully blurred canvases; 4 px leaves 13%, chance is 10%).
    mask_steps, mask_batch, mask_lr: masking-model training.
    iterative_iterations: gradient steps of the iterative-mask baseline per image.
    smoothgrad_samples, ig_steps: SmoothGrad / Integrated Gradients samples.
    blur_ig_steps, xrai_steps: Blur IG steps, XRAI's IG steps per baseline (PAIR: 100 each).
    occlusion_size: occlusion window side (PAIR: 15).
    eval_batch: batch size for timing the one-pass methods.
    seed: everything's seed.
  """
  num_classes: int = 10
  cnn_widths: tuple[int, ...] = (16, 32, 64)
  cnn_group_norm: bool = False
  cnn_stem_stride: int = 2
  cnn_standardize: bool = True
  cnn_steps: int = 1500
  cnn_batch: int = 32
  cnn_lr: float = 2e-3
  masking: model_lib.MaskingConfig | None = None
  objective: obj_lib.ObjectiveConfig = obj_lib.ObjectiveConfig(removal=obj_lib.EvidenceRemoval(blur_sigma=4.0))
  mask_steps: int = 600
  mask_batch: int = 32
  mask_lr: float = 3e-3
  iterative_iterations: int = 100
  smoothgrad_samples: int = 16
  ig_steps: int = 16
  blur_ig_steps: int = 100
  xrai_steps: int = 100
  occlusion_size: int = 15
  eval_batch: int = 100
  seed: int = 0

  def __post_init__(self):
    if self.masking is not None and self.masking.num_classes != self.num_classes:
      raise InputError("masking", f"num_classes {self.masking.num_classes} differs from num_classes {self.num_classes}")

  def classifier(self, in_channels: int) -> SmallCNN:
    """The black-box module this configuration trains."""
    return SmallCNN(self.num_classes, widths=self.cnn_widths, in_channels=in_channels, group_norm=self.cnn_group_norm,
                    stem_stride=self.cnn_stem_stride, standardize=self.cnn_standardize)

  def masking_config(self, classifier: SmallCNN) -> model_lib.MaskingConfig:
    """The masking model trained against `classifier`."""
    return self.masking if self.masking is not None else model_lib.MaskingConfig.on_small_cnn(classifier)


# The from-scratch masking model of session 2's cluttered-digits runs (the paper's CIFAR-10 design,
# narrowed for the CPU): 2 convs per block, 8/16/32 channels, 2 upsamplers.
SCRATCH_MASKING = model_lib.MaskingConfig.small(10, small_widths=(8, 16, 32), convs_per_block=2, upsampler_base=32)


@dataclasses.dataclass
class TrainedModels:
  classifier: SmallCNN
  classifier_variables: dict
  masking: MaskingParams
  classifier_accuracy: float
  seconds: dict


def train_models(cfg: SmallExperimentConfig, train_images, train_labels, test_images, test_labels,
                 workdir: str | None = None, progress: bool = True) -> TrainedModels:
  """Trains the SmallCNN black box, then the masking model against it (both through jaxvis.train.fit)."""
  cnn = cfg.classifier(train_images.shape[-1])
  t0 = time.perf_counter()
  cnn_vars = train_lib.train_classifier(cnn, train_images, train_labels, num_steps=cfg.cnn_steps,
                                        batch_size=cfg.cnn_batch, learning_rate=cfg.cnn_lr, seed=cfg.seed,
                                        progress=progress,
                                        workdir=None if workdir is None else f"{workdir}/classifier")
  t1 = time.perf_counter()
  acc = train_lib.accuracy(cnn.apply, cnn_vars, test_images, test_labels)
  masking = cfg.masking_config(cnn)
  tcfg = train_lib.TrainConfig(masking=masking, objective=cfg.objective,
                               image_size=tuple(train_images.shape[1:3]), batch_size=cfg.mask_batch,
                               num_steps=cfg.mask_steps, learning_rate=cfg.mask_lr, seed=cfg.seed)
  params = train_lib.train_masking_model(tcfg, train_images, train_labels, cnn.apply, cnn_vars,
                                         workdir=None if workdir is None else f"{workdir}/masking",
                                         progress=progress, checkpoint_every=max(cfg.mask_steps // 4, 1),
                                         encoder_variables=cnn_vars if masking.encoder == "small_cnn" else None)
  t2 = time.perf_counter()
  return TrainedModels(cnn, cnn_vars, params, acc, {"classifier_train_s": t1 - t0, "masking_train_s": t2 - t1})


def method_fns(cfg: SmallExperimentConfig, models: TrainedModels, include: tuple[str, ...] = METHOD_ORDER
               ) -> dict[str, tuple]:
  """name -> ((images, class_ids) -> maps, batch size[, jit]) for the methods in `include`
  (any of `ALL_METHODS`)."""
  unknown = [k for k in include if k not in ALL_METHODS]
  if unknown:
    raise InputError("methods", f"unknown method(s) {unknown}; expected any of {list(ALL_METHODS)}")
  cnn, v = models.classifier, models.classifier_variables
  clf = lambda x: cnn.apply(v, x)
  feats = lambda x: cnn.apply(v, x, method=SmallCNN.features)
  head = lambda f: cnn.apply(v, f, method=SmallCNN.head)
  key = jax.random.key(cfg.seed + 7)
  it_cfg = methods_lib.IterativeMaskConfig(num_iterations=cfg.iterative_iterations,
                                           mask_stride=models.masking.config.mask_stride, objective=cfg.objective)
  b = cfg.eval_batch
  all_fns = {
      "masking_model": (lambda x, c: explain(models.masking, x, c), b),
      "gradient": (lambda x, c: methods_lib.gradient(clf, x, c), b),
      "smoothgrad": (lambda x, c: methods_lib.smoothgrad(clf, x, c, key, cfg.smoothgrad_samples), b),
      "integrated_gradients": (lambda x, c: methods_lib.integrated_gradients(clf, x, c, num_steps=cfg.ig_steps), b),
      "grad_cam": (lambda x, c: methods_lib.grad_cam(feats, head, x, c), b),
      "iterative_mask": (lambda x, c: methods_lib.iterative_mask(clf, x, c, key, it_cfg), b),
      "blur_ig": (lambda x, c: methods_lib.blur_ig(clf, x, c, num_steps=cfg.blur_ig_steps), b),
      "occlusion": (lambda x, c: methods_lib.occlusion(clf, x, c, size=cfg.occlusion_size), b),
      "xrai": (lambda x, c: methods_lib.xrai(clf, x, c, num_steps=cfg.xrai_steps), b, False),
  }
  return {k: all_fns[k] for k in include}


def evaluate_models(cfg: SmallExperimentConfig, models: TrainedModels, images, labels, gt_boxes,
                    gt_valid=None, keep_maps: int = 0, include: tuple[str, ...] = METHOD_ORDER):
  cnn, v = models.classifier, models.classifier_variables
  return eval_lib.evaluate_methods(lambda x: cnn.apply(v, x), method_fns(cfg, models, include), images,
                                   labels, gt_boxes, gt_valid, keep_maps=keep_maps)


def cluttered_digits_data(num_train: int, num_test: int, seed: int = 0,
                          data_cfg: digits_lib.ClutteredDigitsConfig = digits_lib.ClutteredDigitsConfig()):
  train = digits_lib.make_cluttered_digits(num_train, "train", seed, data_cfg)
  test = digits_lib.make_cluttered_digits(num_test, "test", seed + 1, data_cfg)
  return train, test


def results_table(results: dict) -> tuple[list[str], list[list]]:
  """(header, rows) for a Markdown/HTML table of `evaluate_methods` results."""
  header = ["method", "localisation error (%)", "saliency metric", "masks/s"]
  rows = []
  for name, r in results.items():
    rate = r.get("masks_per_s")
    rows.append([name, f"{r['localisation_error']:.1f}", f"{r['saliency_metric']:.3f}",
                 "-" if rate is None else f"{rate:.1f}"])
  return header, rows


def markdown_table(results: dict) -> str:
  header, rows = results_table(results)
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
  return "\n".join(lines)


def to_numpy_tree(tree):
  return jax.tree.map(lambda x: np.asarray(x) if isinstance(x, (jax.Array, jnp.ndarray)) else x, tree)
