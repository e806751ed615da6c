"""Expression CNN: FER2013 reader, training through jaxvis.train, inference on face boxes."""

from __future__ import annotations

import numpy as np
import pytest

from jaxvis.music import expression, synthetic


def test_fer2013_reader_splits_and_scales(fer_csv):
  data = expression.read_fer2013(fer_csv)
  assert set(data) == {"train", "val", "test"}
  n = sum(len(d["label"]) for d in data.values())
  assert n == 7 * 24
  x = data["train"]["image"]
  assert x.shape[1:] == (48, 48, 1) and x.dtype == np.float32
  assert 0.0 <= x.min() and x.max() <= 1.0
  assert set(np.unique(np.concatenate([d["label"] for d in data.values()]))) == set(range(7))


def test_fer2013_reader_rejects_bad_files(tmp_path):
  p = tmp_path / "bad.csv"
  p.write_text("label,pixels\n0,1 2 3\n")
  with pytest.raises(ValueError, match="emotion"):
    expression.read_fer2013(str(p))
  p.write_text("emotion,pixels,Usage\n0,1 2 3,Training\n")
  with pytest.raises(ValueError, match="2304"):
    expression.read_fer2013(str(p))


def test_tiny_model_learns_the_fixture(trained_expression):
  model, variables, data = trained_expression
  assert expression.accuracy(model, variables, data["train"]) > 0.7
  held_out = {k: np.concatenate([data["val"][k], data["test"][k]]) for k in ("image", "label")}
  assert expression.accuracy(model, variables, held_out) > 0.45      # chance is 1/7


def test_save_load_round_trip(trained_expression, tmp_path):
  model, variables, data = trained_expression
  path = str(tmp_path / "expr.msgpack")
  expression.save_model(path, model, variables)
  model2, variables2, names = expression.load_model(path)
  assert names == expression.FER2013_CLASSES and model2 == model
  x = data["val"]["image"]
  np.testing.assert_allclose(np.asarray(expression.predict_probs(model2, variables2, x)),
                             np.asarray(expression.predict_probs(model, variables, x)),
                             atol=1e-6)
  with pytest.raises(FileNotFoundError, match="expression_model"):
    expression.load_model(str(tmp_path / "none"))


def test_dominant_expression_on_faces_pasted_in_an_image(trained_expression):
  model, variables, _ = trained_expression
  rng = np.random.default_rng(5)
  happy = expression.FER2013_CLASSES.index("happy")
  face = synthetic.cartoon_face(happy, rng)
  image = np.zeros((140, 160, 3), np.uint8)
  image[30:30 + 96, 40:40 + 96] = np.repeat(np.kron(face, np.ones((2, 2), np.uint8))[..., None],
                                           3, -1)
  crops = expression.crop_faces(image, [[40, 30, 135, 125]])
  assert crops.shape == (1, 48, 48, 1)
  # The crop of the pasted (2x upscaled) face matches the original face.
  assert np.abs(np.asarray(crops[0, ..., 0]) - face / 255.0).mean() < 0.08
  label, probs = expression.dominant_expression(model, variables, image, [[40, 30, 135, 125]])
  assert probs.shape == (1, 7) and label == expression.FER2013_CLASSES[int(probs[0].argmax())]
  none, empty = expression.dominant_expression(model, variables, image, np.zeros((0, 4)))
  assert none is None and empty.shape == (0, 7)


def test_train_expression_cli_rejects_a_non_fer_file(tmp_path, capsys):
  from jaxvis import cli
  bad = tmp_path / "bad.csv"
  bad.write_text("label,pixels\n0,1 2 3\n")
  assert cli.main(["music", "train-expression", str(bad), "--out", str(tmp_path / "m")]) == 2
  assert "emotion" in capsys.readouterr().err
