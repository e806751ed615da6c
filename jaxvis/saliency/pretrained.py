"""The cluttered-digits models shipped with the package (black box + masking model), and their results.

`experiments/saliency_cluttered_digits.py --save-weights` writes them (reproducible from the
experiment's seed); the demo, the tests and `jaxvis saliency explain/evaluate --checkpoint
jaxvis/assets/saliency` load them instead of training:

    models, meta = pretrained.load()          # experiment.TrainedModels, metadata incl. "results"
    masks = saliency.explain(models.masking, images, class_ids)
"""

from __future__ import annotations

import json
import os

from jaxvis.saliency import blackbox
from jaxvis.saliency import experiment as exp
from jaxvis.saliency import explainer as explain_lib

DIRECTORY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "assets", "saliency")
RESULTS_FILE = "results.json"


def save(directory: str, models: exp.TrainedModels, results: dict, extra: dict | None = None) -> None:
  """Writes the masking model, the black box and the experiment's results JSON to `directory`."""
  explain_lib.save(directory, models.masking, {
      "black_box": blackbox.spec_for(models.classifier), "dataset": "cluttered_digits",
      "preprocess": "unit", "classifier_test_accuracy": models.classifier_accuracy, **(extra or {})})
  blackbox.save_black_box(directory, models.classifier_variables)
  with open(os.path.join(directory, RESULTS_FILE), "w") as f:
    json.dump(results, f, indent=1)


def available(directory: str = DIRECTORY) -> bool:
  names = ("masking_config.json", explain_lib.VARIABLES_FILE, blackbox.FILENAME)
  return all(os.path.exists(os.path.join(directory, n)) for n in names)


def load(directory: str = DIRECTORY) -> tuple[exp.TrainedModels, dict]:
  """The shipped (or `save`d) models and metadata; `meta["results"]` is the experiment's JSON if present."""
  if not available(directory):
    raise FileNotFoundError(f"directory: no saved cluttered-digits models in {directory!r} (write them with "
                            "experiments/saliency_cluttered_digits.py --save-weights)")
  params, meta = explain_lib.load(directory)
  cnn, cnn_vars = blackbox.load_black_box(directory, meta["black_box"])
  results_path = os.path.join(directory, RESULTS_FILE)
  if os.path.exists(results_path):
    with open(results_path) as f:
      meta["results"] = json.load(f)
  models = exp.TrainedModels(cnn, cnn_vars, params, float(meta.get("classifier_test_accuracy", float("nan"))), {})
  return models, meta
