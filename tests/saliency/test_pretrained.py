"""The shipped cluttered-digits models (jaxvis/assets/saliency): they load, classify and localise."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxvis import saliency
from jaxvis.saliency import digits, metrics, pretrained


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
