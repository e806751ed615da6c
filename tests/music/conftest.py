"""Shared fixtures: a FER2013-format file and a tiny expression model trained on it once."""

from __future__ import annotations

import numpy as np
import pytest

from jaxvis.music import expression, synthetic
from jaxvis.music.songs import Songs


@pytest.fixture(autouse=True, scope="module")
def _table_words_only(request):
  # Tests expect the bundled table's behaviour (unknown words stay unknown); only
  # test_minilm uses the run-time MiniLM encoder when its weights are installed.
  # Module scope, so that module-scoped recommenders are built under the patch too.
  if request.module.__name__.endswith("test_minilm"):
    yield
    return
  from jaxvis.music import minilm
  with pytest.MonkeyPatch.context() as mp:
    mp.setattr(minilm, "model_dir", lambda: None)
    yield


@pytest.fixture(scope="session")
def fer_csv(tmp_path_factory):
  path = tmp_path_factory.mktemp("fer") / "fer2013.csv"
  synthetic.write_fer2013_csv(str(path), per_class=24, seed=0)
  return str(path)


@pytest.fixture(scope="session")
def trained_expression(fer_csv):
  data = expression.read_fer2013(fer_csv)
  cfg = expression.ExpressionTrainConfig.tiny_config()
  variables = expression.train_expression_model(data["train"], cfg)
  return expression.make_model(cfg, 7), variables, data


@pytest.fixture(scope="session")
def songs():
  va = np.array([[0.6, 0.6], [-0.6, 0.6], [-0.6, -0.6], [0.6, -0.6], [0.1, 0.9],
                 [0.9, -0.1]], np.float32)
  return Songs(tuple(f"s{i}" for i in range(6)), va, tuple(f"title {i}" for i in range(6)),
               "test")
