"""The shipped cluttered-digits models (jaxvis/assets/saliency): they load, classify and localise."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxvis import saliency
from jaxvis.saliency import digits, methods, metrics, pretrained


@pytest.fixture(scope="module")
def shipped():
  assert pretrained.available(), "jaxvis/assets/saliency must hold the shipped cluttered-digits weights"
  models, meta = pretrained.load()
  x, y, boxes = digits.make_cluttered_digits(64, "test", seed=int(meta["seed"]) + 1)  # the experiment's test set
  return models, meta, x, y, boxes


def test_shipped_results_schema(shipped):
  _, meta, _, _, _ = shipped
  res = meta["results"]
  assert not res["config"]["tiny"]
  for name in ("masking_model", "center_box", "max_box", "gradient", "grad_cam", "iterative_mask"):
    assert {"localisation_error", "saliency_metric", "masks_per_s"} <= set(res["methods"][name])
  assert res["classifier_test_accuracy"] >= 90.0


def test_shipped_black_box_classifies_held_out_canvases(shipped):
  models, _, x, y, _ = shipped
  logits = jax.jit(models.classifier.apply)(models.classifier_variables, jnp.asarray(x))
  assert float(jnp.mean(jnp.argmax(logits, -1) == y)) >= 0.85


def test_shipped_results_masking_model_beats_center_box_and_gradient(shipped):
  scores = shipped[1]["results"]["methods"]
  loc = {k: scores[k]["localisation_error"] for k in ("masking_model", "center_box", "gradient")}
  assert loc["masking_model"] < loc["center_box"] and loc["masking_model"] < loc["gradient"], loc


def test_shipped_masking_model_localises_better_than_gradient_live(shipped):
  # Re-scored here on the experiment's 300 held-out canvases, with the paper's protocol (64 are
  # too few: the two differ by 13 points on 300 but sample noise alone is ~6 points on 64).
  models, meta, _, _, _ = shipped
  x, y, boxes = digits.make_cluttered_digits(300, "test", seed=int(meta["seed"]) + 1)
  clf = lambda im: models.classifier.apply(models.classifier_variables, im)
  valid = jnp.ones((len(x), 1), bool)

  def error(maps):
    box, found = metrics.mask_to_box(jnp.asarray(maps))
    return float(metrics.localisation_error(metrics.localisation_success(box, jnp.asarray(boxes), valid, found)))

  masking = error(saliency.explain(models.masking, x, y))
  gradient = error(methods.gradient(clf, jnp.asarray(x), jnp.asarray(y)))
  assert masking < gradient and masking < 60.0, (masking, gradient)


def test_shipped_masking_model_uses_the_class_selector(shipped):
  # A wrong class selector must shrink the mask (the 30% fake-selector training): the paper's fix
  # for a model that "simply always masks the dominant object".
  models, _, x, y, _ = shipped
  true_area = float(jnp.mean(saliency.explain(models.masking, x, y)))
  wrong_area = float(jnp.mean(saliency.explain(models.masking, x, (y + 1 + np.arange(len(y)) % 9) % 10)))
  assert wrong_area < 0.6 * true_area, (true_area, wrong_area)


def test_shipped_masking_model_keeps_the_digit(shipped):
  models, _, x, y, boxes = shipped
  m = np.asarray(saliency.explain(models.masking, x, y))
  inside = np.zeros(m.shape, bool)
  for i, (x1, y1, x2, y2) in enumerate(boxes[:, 0].astype(int)):
    inside[i, y1:y2 + 1, x1:x2 + 1] = True
  # the mask is high on the digit's box and low on the clutter around it (measured 0.76 vs 0.13)
  assert m[inside].mean() > 0.5 and m[inside].mean() > 3 * m[~inside].mean()
  assert 0.05 < m.mean() < 0.5
  _, found = metrics.mask_to_box(jnp.asarray(m))
  assert bool(jnp.all(found))
