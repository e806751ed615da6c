"""CIFAR-10 (paper section 5.3): a small masking model trained from scratch against a trained CNN.

Reads the standard `cifar-10-batches-py` folder. CIFAR-10 has no boxes, so the report is the
black box's accuracy, the masking model's objective terms on the test set (how much of the class
evidence the mask keeps and removes, and its area), masks/s, and a grid of masks (Figure 6).

    python experiments/saliency_cifar10.py --data-dir ~/data/cifar-10-batches-py --json cifar.json
    python experiments/saliency_cifar10.py --data-dir FIXTURE --tiny --json /tmp/cifar.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxvis.saliency import cifar10
from jaxvis.saliency import evaluate as eval_lib
from jaxvis.saliency import experiment as exp
from jaxvis.saliency import figures
from jaxvis.saliency import model as model_lib
from jaxvis.saliency import objective as obj_lib
from jaxvis.saliency.explainer import explain


@dataclasses.dataclass(frozen=True)
class Config:
  """Attributes:
    num_train: training images used (None = all 50,000).
    num_test: test images evaluated.
    experiment: models and training (the paper: 3 down blocks of 5 convs, 1 bottleneck per upsampler).
  """
  num_train: int | None = None
  num_test: int = 1000
  experiment: exp.SmallExperimentConfig = exp.SmallExperimentConfig(
      cnn_widths=(64, 128, 256), cnn_stem_stride=1, cnn_steps=4000, cnn_batch=128,
      masking=model_lib.MaskingConfig.small(10), mask_steps=4000, mask_batch=64,
      objective=obj_lib.ObjectiveConfig(removal=obj_lib.EvidenceRemoval(blur_sigma=2.0)))

  @classmethod
  def tiny(cls) -> "Config":
    return cls(num_train=None, num_test=20, experiment=exp.SmallExperimentConfig(
        cnn_widths=(8, 16), cnn_stem_stride=1, cnn_steps=10, cnn_batch=16,
        masking=model_lib.MaskingConfig.small(10, small_widths=(8, 16, 16), convs_per_block=2, upsampler_base=16),
        mask_steps=6, mask_batch=8,
        objective=obj_lib.ObjectiveConfig(removal=obj_lib.EvidenceRemoval(blur_sigma=2.0))))


def objective_on(cfg: exp.SmallExperimentConfig, models: exp.TrainedModels, images, labels) -> dict:
  """Mean objective terms of the true-class masks on held-out images (no fake selectors)."""
  clf = lambda x: models.classifier.apply(models.classifier_variables, x)

  @jax.jit
  def terms(x, y):
    m = explain(models.masking, x, y)
    _, metrics = obj_lib.saliency_objective(jax.random.key(0), clf, x, m, y, jnp.ones(y.shape, bool),
                                            cfg.objective)
    return metrics

  out = [terms(jnp.asarray(images[i:i + 100]), jnp.asarray(labels[i:i + 100])) for i in range(0, len(images), 100)]
  return {k: float(np.mean([o[k] for o in out])) for k in out[0]}


def main(argv=None) -> int:
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--data-dir", required=True, help="the cifar-10-batches-py folder")
  ap.add_argument("--tiny", action="store_true")
  ap.add_argument("--json", required=True)
  ap.add_argument("--grid", default=None, help="Figure-6-style PNG of test masks")
  ap.add_argument("--workdir", default=None)
  args = ap.parse_args(argv)
  cfg = Config.tiny() if args.tiny else Config()
  start = time.perf_counter()
  xtr, ytr = cifar10.load_split(args.data_dir, "train")
  xte, yte = cifar10.load_split(args.data_dir, "test")
  if cfg.num_train:
    xtr, ytr = xtr[:cfg.num_train], ytr[:cfg.num_train]
  xte, yte = xte[:cfg.num_test], yte[:cfg.num_test]
  models = exp.train_models(cfg.experiment, xtr, ytr, xte, yte, workdir=args.workdir, progress=sys.stderr.isatty())
  explain_fn = lambda x, c: explain(models.masking, x, c)  # one function: compiled once for both runs
  masks, rate = eval_lib.run_batched(explain_fn, xte, yte, min(cfg.experiment.eval_batch, len(xte)))
  fake = (yte + 1) % 10
  fake_masks, _ = eval_lib.run_batched(explain_fn, xte, fake, min(cfg.experiment.eval_batch, len(xte)))
  out = {
      "classifier_test_accuracy": models.classifier_accuracy,
      "masking_model": {"masks_per_s": rate, "mean_area_true_class": float(masks.mean()),
                        "mean_area_fake_class": float(fake_masks.mean()),
                        **objective_on(cfg.experiment, models, xte, yte)},
      "timings_s": {**models.seconds, "total": time.perf_counter() - start},
      "label_names": cifar10.label_names(args.data_dir),
  }
  os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
  with open(args.json, "w") as f:
    json.dump(out, f, indent=1)
  if args.grid:
    figures.save_grid(args.grid, xte[:8], {"mask": masks[:8], "fake-class mask": fake_masks[:8]}, scale=4)
  print(json.dumps(out["masking_model"], indent=1))
  return 0


if __name__ == "__main__":
  sys.exit(main())
