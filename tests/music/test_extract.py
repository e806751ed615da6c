"""Extraction: method A weights, detections JSON, dominant colours, caption edits."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxvis.music import extract
from jaxvis.music.wordvec import WordVectors
from jaxvis.ops import color


def test_method_a_weights_sum_areas_per_class():
  dets = extract.parse_detections({"detections": [
      {"label": "person", "box": [0, 0, 10, 10]}, {"label": "person", "box": [0, 0, 5, 10]},
      {"label": "Book", "box": [0, 0, 10, 3]},
      {"label": "bench", "box": [0, 0, 4, 4], "mask": np.eye(20, dtype=int).tolist()}]})
  w = extract.class_weights(dets)
  assert w == pytest.approx({"person": 1.0, "book": 30 / 150, "bench": 20 / 150})
  dev = extract.class_area_weights(jnp.array([[100.0, 50, 30, 20]]), jnp.array([[0, 0, 1, 2]]),
                                   jnp.array([[True, True, True, True]]), 3)
  np.testing.assert_allclose(np.asarray(dev), [[1.0, 0.2, 20 / 150]], atol=1e-6)
  assert extract.class_weights([]) == {}


def test_detections_json_errors(tmp_path):
  p = tmp_path / "d.json"
  p.write_text(json.dumps([{"label": "dog", "box": [1, 2, 3, 4], "score": 0.2}]))
  assert extract.load_detections(str(p), score_threshold=0.5) == []
  assert extract.load_detections(str(p))[0].label == "dog"
  p.write_text(json.dumps([{"label": "dog"}]))
  with pytest.raises(ValueError, match="box"):
    extract.load_detections(str(p))
  p.write_text("{not json")
  with pytest.raises(ValueError, match="JSON"):
    extract.load_detections(str(p))


def test_dominant_colors_finds_the_region_colours():
  # Left half red, right half 70% blue and 30% green: the right region's dominant colour is blue.
  img = np.zeros((40, 40, 3), np.uint8)
  img[:, :20] = (230, 20, 20)
  img[:, 20:] = (20, 20, 230)
  img[:12, 20:] = (20, 200, 20)
  left = np.zeros((40, 40), bool)
  left[:, :20] = True
  right = ~left
  # 4 regions on a 64-grid: the shapes the pipeline pads to (one compilation).
  pixels, weights = extract.region_pixels(img, np.stack([left, right, left, right]), grid=64)
  assert pixels.shape == (4096, 3) and weights.shape == (4, 4096)
  centres, shares = extract.dominant_colors(pixels, weights, 0)
  assert centres.shape == (4, 3, 3)
  centres, shares = centres[:2], shares[:2]
  np.testing.assert_allclose(np.asarray(shares).sum(-1), 1.0, atol=1e-5)
  names = extract.name_dominant_color(np.asarray(centres), np.asarray(shares),
                                      color.named_colors("css"))
  assert names == ["crimson", "mediumblue"] or (names[0] in ("crimson", "red", "firebrick") and
                                                "blue" in names[1])


def test_expression_and_colour_insertion():
  toks = ["a", "man", "and", "a", "dog", "on", "a", "bench"]
  assert extract.insert_expression(toks, "happy")[:3] == ["a", "happy", "man"]
  assert extract.insert_expression(toks, None) == toks
  wv = WordVectors.from_arrays(["man", "dog", "bench", "person", "chair", "car"],
                               np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.9, 0.1, 0],
                                         [0.1, 0, 0.7], [0.5, 0.5, 0.5]]))
  out, rec = extract.insert_colors(toks, [("person", "navy"), ("chair", "brown"),
                                          ("car", "red")], wv, threshold=0.7)
  assert out == ["a", "navy", "man", "and", "a", "dog", "on", "a", "brown", "bench"]
  assert [r["target"] for r in rec] == ["man", "bench", None]     # car: similarity < 0.7
  assert rec[2]["similarity"] < 0.7
