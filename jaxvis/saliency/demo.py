"""`jaxvis demo` section: the shipped cluttered-digits models, the comparison table and a Figure-5 grid.

Both modes load the black box and masking model shipped in `jaxvis/assets/saliency` (written by
`experiments/saliency_cluttered_digits.py --save-weights`) instead of training. Quick mode shows
the full experiment's stored table and draws the grid live on held-out canvases; full mode also
re-scores every method live on the first 100 of the experiment's test canvases.
"""

from __future__ import annotations

import dataclasses
import os

import jax
import jax.numpy as jnp
import numpy as np

from jaxvis.saliency import digits as digits_lib
from jaxvis.saliency import experiment as exp
from jaxvis.saliency import figures
from jaxvis.saliency import pretrained

GRID_METHODS = ("masking_model", "gradient", "grad_cam", "iterative_mask")
FULL_MODE_CANVASES = 100  # the live re-scoring (iterative masks included) stays within minutes on a CPU
COMMAND = "python experiments/saliency_cluttered_digits.py --json results.json --save-weights"


def _test_canvases(num: int, seed: int):
  """The experiment's held-out canvases (test-split digits, seed + 1), first `num` of them."""
  images, labels, boxes = digits_lib.make_cluttered_digits(num, "test", seed + 1)
  return images, labels, boxes


def section(report, quick: bool) -> None:
  report.section("Saliency: real-time masking model (Dabkowski & Gal)")
  if not pretrained.available():
    report.text(f"No shipped cluttered-digits models in {pretrained.DIRECTORY}; run `{COMMAND}` first.")
    return
  models, meta = pretrained.load()
  stored = meta.get("results", {})
  conf = stored.get("config", {})
  seed = int(meta.get("seed", conf.get("seed", 0)))
  report.text("Cluttered digits: sklearn's real handwritten digits placed at random on 64x64 canvases "
              "among fragments of other digits. A SmallCNN black box and a small masking model were trained "
              f"on {conf.get('num_train', '?')} canvases from labels only (`{COMMAND}`, seed {seed}); the "
              "weights ship with the package. Localisation: mask > 0.5, tightest box, success if IoU > 0.5 "
              "with the digit's box. Saliency metric: log(max(area, 0.05)) - log p(class | crop); lower is "
              "better.")
  if stored.get("methods"):
    header, rows = exp.results_table(stored["methods"])
    report.text(f"Full experiment ({conf.get('num_test', '?')} held-out canvases; black-box test accuracy "
                f"{stored.get('classifier_test_accuracy', float('nan')):.1f}%; masks/s on "
                f"{stored.get('device', 'the CPU it ran on')}):")
    report.table(header, rows)
  cfg = dataclasses.replace(exp.SmallExperimentConfig(), seed=seed,
                            iterative_iterations=int(conf.get("iterative_iterations", 100)))
  if not quick:
    num_test = min(int(conf.get("num_test", 300)), FULL_MODE_CANVASES)
    xte, yte, bte = _test_canvases(num_test, seed)
    live, maps = exp.evaluate_models(cfg, models, xte, yte, bte, keep_maps=6, include=exp.METHOD_ORDER)
    header, rows = exp.results_table(live)
    report.text(f"Re-scored live from the shipped weights on the first {num_test} of those canvases:")
    report.table(header, rows)
    xte, bte = xte[:6], bte[:6]
  else:
    xte, yte, bte = _test_canvases(6, seed)
    fns = exp.method_fns(cfg, models, GRID_METHODS)
    maps = {k: jax.jit(fn)(jnp.asarray(xte), jnp.asarray(yte)) for k, (fn, _) in fns.items()}
  name = "saliency_grid.png"
  figures.save_grid(os.path.join(report.out_dir, name), xte, {k: np.asarray(maps[k]) for k in GRID_METHODS},
                    boxes=bte)
  report.image(name, "Figure 5 style, from the shipped weights: input (red: ground-truth box), masking model, "
                     "gradient, Grad-CAM, iterative mask, for the true class.")
