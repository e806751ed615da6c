"""Cluttered digits: the paper's localisation and saliency-metric comparison, fully offline on real data.

sklearn's handwritten digits are placed at random positions and scales on 64x64 canvases with
clutter (fragments of other digits); the digit's box is the ground truth. A SmallCNN black box is
trained on the canvases (labels only), a small masking model is trained against it (labels only),
and every method is scored: localisation error (threshold 0.5, tightest box, IoU > 0.5), the
saliency metric, and masks/s.

    python experiments/saliency_cluttered_digits.py --json results.json          # full (<= 20 min, 2 CPU cores)
    python experiments/saliency_cluttered_digits.py --tiny --json /tmp/tiny.json  # seconds
    python experiments/saliency_cluttered_digits.py --json r.json --save-weights  # + jaxvis/assets/saliency
    python experiments/saliency_cluttered_digits.py --rescore jaxvis/assets/saliency --methods smoothgrad --json r.json
      (--rescore DIR: no training; the saved models, the same test canvases, only --methods scored,
       and their rows replaced in DIR/results.json, with a note in its "rescored" entry)

Everything is drawn from `--seed` (data, init, batches, evidence removal), so `--save-weights`
reproduces the shipped weights on the same JAX version and backend.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

import jax

from jaxvis.errors import InputError
from jaxvis.saliency import experiment as exp
from jaxvis.saliency import figures
from jaxvis.saliency import pretrained
from jaxvis.saliency.cli import method_list


@dataclasses.dataclass(frozen=True)
class Config:
  """Attributes:
    num_train, num_test: canvases (train and test digits come from disjoint sklearn digits).
    experiment: models, training and baseline settings.
  """
  num_train: int = 12000
  num_test: int = 300
  experiment: exp.SmallExperimentConfig = exp.SmallExperimentConfig()

  @classmethod
  def tiny(cls) -> "Config":
    return cls(num_train=128, num_test=16, experiment=exp.SmallExperimentConfig(
        cnn_widths=(8, 16, 32), cnn_steps=20, cnn_batch=16, cnn_lr=1e-3,
        mask_steps=10, mask_batch=8, iterative_iterations=10, smoothgrad_samples=4, ig_steps=4,
        eval_batch=16))


def main(argv=None) -> int:
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--tiny", action="store_true", help="a seconds-long run on a few canvases")
  ap.add_argument("--json", required=True, help="where to write the results")
  ap.add_argument("--workdir", default=None, help="checkpoints + metrics.jsonl (resumable)")
  ap.add_argument("--grid", default=None, help="write a Figure-5-style PNG grid here")
  ap.add_argument("--save-weights", nargs="?", const=pretrained.DIRECTORY, default=None, metavar="DIR",
                  help="save the masking model, black box and results here (no DIR: the package's "
                       "jaxvis/assets/saliency, which the demo and tests load)")
  ap.add_argument("--seed", type=int, default=None, help="override the configuration's seed")
  ap.add_argument("--rescore", default=None, metavar="DIR",
                  help="score --methods again with the models saved in DIR (no training) and update DIR/results.json")
  ap.add_argument("--methods", default=None,
                  help="comma-separated methods to score (default: " + ", ".join(exp.METHOD_ORDER) +
                       "; also " + ", ".join(exp.EXTRA_METHODS) + ")")
  args = ap.parse_args(argv)
  if "JAX_THREEFRY_PARTITIONABLE" not in os.environ and jax.default_backend() == "cpu":
    jax.config.update("jax_threefry_partitionable", False)  # XLA:CPU compiles it ~10x faster
  cfg = Config.tiny() if args.tiny else Config()
  if args.seed is not None:
    cfg = dataclasses.replace(cfg, experiment=dataclasses.replace(cfg.experiment, seed=args.seed))
  include = method_list(args.methods)
  if args.rescore:
    return rescore(args.rescore, cfg, include, args.json)
  start = time.perf_counter()
  (xtr, ytr, _), (xte, yte, bte) = exp.cluttered_digits_data(cfg.num_train, cfg.num_test, cfg.experiment.seed)
  models = exp.train_models(cfg.experiment, xtr, ytr, xte, yte, workdir=args.workdir,
                            progress=sys.stderr.isatty())
  results, maps = exp.evaluate_models(cfg.experiment, models, xte, yte, bte, keep_maps=8, include=include)
  out = {
      "methods": results,
      "classifier_test_accuracy": models.classifier_accuracy,
      "timings_s": {**models.seconds, "total": time.perf_counter() - start},
      "config": {"tiny": args.tiny, "num_train": cfg.num_train, "num_test": cfg.num_test,
                 "seed": cfg.experiment.seed, "objective_form": cfg.experiment.objective.form,
                 "mask_steps": cfg.experiment.mask_steps, "cnn_steps": cfg.experiment.cnn_steps,
                 "iterative_iterations": cfg.experiment.iterative_iterations,
                 "smoothgrad_samples": cfg.experiment.smoothgrad_samples, "ig_steps": cfg.experiment.ig_steps},
      "device": str(jax.devices()[0].device_kind),
  }
  os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
  with open(args.json, "w") as f:
    json.dump(out, f, indent=1)
  if args.grid:
    figures.save_grid(args.grid, xte[:8], {k: maps[k] for k in exp.GRID_METHODS if k in maps}, boxes=bte[:8])
  if args.save_weights:
    pretrained.save(args.save_weights, models, out, {"image_size": list(xte.shape[1:3]),
                                                     "seed": cfg.experiment.seed})
  print(exp.markdown_table(results))
  print(f"classifier test accuracy {models.classifier_accuracy:.1f}%  total {out['timings_s']['total']:.0f}s")
  return 0


def rescore(directory: str, cfg: Config, include, json_path: str) -> int:
  """Scores `include` again on the experiment's test canvases with the models saved in `directory`
  (e.g. after a method changed), and replaces those rows of its results.json."""
  models, meta = pretrained.load(directory)
  results_all = meta.get("results") or {}
  run = results_all.get("config", {})
  if run.get("num_test", cfg.num_test) != cfg.num_test or run.get("seed", cfg.experiment.seed) != cfg.experiment.seed:
    raise InputError("--rescore", f"{directory}/results.json was written with num_test / seed "
                                  f"{run.get('num_test')} / {run.get('seed')}; pass the same --seed (and no --tiny)")
  for key in ("smoothgrad_samples", "ig_steps", "iterative_iterations"):
    if key in run:
      cfg = dataclasses.replace(cfg, experiment=dataclasses.replace(cfg.experiment, **{key: run[key]}))
  # the test split alone: its canvases do not depend on the number of training canvases
  _, (xte, yte, bte) = exp.cluttered_digits_data(1, cfg.num_test, cfg.experiment.seed)
  start = time.perf_counter()
  results, _ = exp.evaluate_models(cfg.experiment, models, xte, yte, bte, include=include)
  rows = {k: results[k] for k in include}
  out = {"methods": rows, "rescored_from": directory, "seconds": time.perf_counter() - start,
         "device": str(jax.devices()[0].device_kind)}
  with open(json_path, "w") as f:
    json.dump(out, f, indent=1)
  if results_all:
    results_all.setdefault("methods", {}).update(rows)
    note = results_all.setdefault("rescored", {})
    for k in include:
      note[k] = (f"rescored with the saved models by `--rescore` ({time.strftime('%Y-%m-%d')}, "
                 f"{out['device']}); masks_per_s measured then")
    with open(os.path.join(directory, pretrained.RESULTS_FILE), "w") as f:
      json.dump(results_all, f, indent=1)
  print(exp.markdown_table(rows))
  return 0


if __name__ == "__main__":
  try:
    sys.exit(main())
  except InputError as e:  # bad input: one line naming it, exit 2 (as the jaxvis CLI does)
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
