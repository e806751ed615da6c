"""`jaxvis demo` section: cluttered digits trained on the spot, the comparison table and a Figure-5 grid."""

from __future__ import annotations

import dataclasses
import os

from jaxvis.saliency import experiment as exp
from jaxvis.saliency import figures
from jaxvis.saliency import model as model_lib


def demo_config(quick: bool) -> tuple[int, int, exp.SmallExperimentConfig]:
  """(num_train, num_test, experiment config); quick finishes in ~30 s on 2 CPU cores."""
  if quick:
    return 384, 32, exp.SmallExperimentConfig(
        cnn_widths=(16, 32, 64), cnn_steps=60, cnn_batch=32,
        masking=model_lib.MaskingConfig.small(10, small_widths=(16, 32, 32), convs_per_block=2,
                                              upsampler_base=32),
        mask_steps=60, mask_batch=16, iterative_iterations=30, smoothgrad_samples=4, ig_steps=8,
        eval_batch=32)
  return 3000, 200, dataclasses.replace(exp.SmallExperimentConfig(), cnn_steps=400, mask_steps=400,
                                        iterative_iterations=150)


def section(report, quick: bool) -> None:
  report.section("Saliency: real-time masking model (Dabkowski & Gal)")
  num_train, num_test, cfg = demo_config(quick)
  (xtr, ytr, _), (xte, yte, bte) = exp.cluttered_digits_data(num_train, num_test, cfg.seed)
  report.text(f"Cluttered digits (sklearn's real handwritten digits on 64x64 clutter): a SmallCNN black "
              f"box and a small masking model trained here on {num_train} canvases "
              f"({cfg.cnn_steps} + {cfg.mask_steps} steps), scored on {num_test} held-out canvases. "
              "Localisation: mask > 0.5, tightest box, success if IoU > 0.5 with the digit's box. "
              "Saliency metric: log(max(area, 0.05)) - log p(class | crop); lower is better.")
  models = exp.train_models(cfg, xtr, ytr, xte, yte, progress=False)
  include = ("masking_model", "gradient", "grad_cam", "iterative_mask")
  results, maps = exp.evaluate_models(cfg, models, xte, yte, bte, keep_maps=6, include=include)
  header, rows = exp.results_table(results)
  report.table(header, rows)
  report.text(f"Black-box test accuracy {models.classifier_accuracy:.1f}%.")
  name = "saliency_grid.png"
  figures.save_grid(os.path.join(report.out_dir, name), xte[:6], {k: maps[k] for k in include}, boxes=bte[:6])
  report.image(name, "Figure 5 style: input (red: ground-truth box), masking model, gradient, Grad-CAM, "
                     "iterative mask, for the true class.")
