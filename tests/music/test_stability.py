"""Stable answers: the same photo gives the same colours and quadrant for every seed and entry point."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest
from PIL import Image

from jaxvis import cli
from jaxvis.music import extract, seeding
from jaxvis.music.demo import PHOTOS, _photo
from jaxvis.music.pipeline import MusicConfig, MusicRecommender


def _answer(rec, name):
  caption, boxes = PHOTOS[name]
  dets = extract.parse_detections([{"label": b[0], "box": list(b[1:])} for b in boxes])
  out = rec.recommend(_photo(name), dets, caption).to_json()
  return out["quadrant"], [c["color"] for c in out["colors"]], out["songs"]


@pytest.fixture(scope="module")
def answers(songs):
  return {seed: {n: _answer(MusicRecommender(songs, face_boxes=None,
                                             config=MusicConfig(seed=seed)), n)
                 for n in PHOTOS}
          for seed in range(5)}


@pytest.mark.parametrize("name", list(PHOTOS))
def test_same_quadrant_and_colour_names_for_seeds_0_to_4(answers, name):
  quadrants = {answers[s][name][0] for s in answers}
  colours = {tuple(answers[s][name][1]) for s in answers}
  songs = {tuple(answers[s][name][2]) for s in answers}
  assert len(quadrants) == 1 and None not in quadrants, quadrants
  assert len(colours) == 1, colours
  assert len(songs) == 1, songs
  assert len(next(iter(colours))) == len(PHOTOS[name][1])     # one colour per object


def test_answer_does_not_depend_on_the_threefry_setting(songs):
  # The CLI turns jax_threefry_partitionable off on CPU; the library leaves it on.
  before = jax.config.jax_threefry_partitionable
  try:
    got = []
    for flag in (True, False):
      jax.config.update("jax_threefry_partitionable", flag)
      got.append(_answer(MusicRecommender(songs, face_boxes=None, config=MusicConfig(seed=3)),
                         "coffee"))
  finally:
    jax.config.update("jax_threefry_partitionable", before)
  assert got[0] == got[1]


def test_library_and_cli_give_the_same_answer(tmp_path, songs, capsys):
  name = "chelsea"
  caption, boxes = PHOTOS[name]
  img = tmp_path / "photo.png"
  Image.fromarray(_photo(name)).save(img)
  dets = tmp_path / "d.json"
  dets.write_text(json.dumps([{"label": b[0], "box": list(b[1:])} for b in boxes]))
  songs_csv = tmp_path / "songs.csv"
  songs_csv.write_text("song_id,valence,arousal\n" + "".join(
      f"{i},{v!r},{a!r}\n" for i, (v, a) in zip(songs.ids, songs.va.tolist())))
  lib = _answer(MusicRecommender(songs, face_boxes=None, config=MusicConfig(seed=2)), name)
  assert cli.main(["music", "recommend", str(img), "--songs", str(songs_csv), "--detections",
                   str(dets), "--caption", caption, "--seed", "2", "--no-faces", "--json"]) == 0
  out = json.loads(capsys.readouterr().out)
  assert (out["quadrant"], [c["color"] for c in out["colors"]], out["songs"]) == lib


def test_host_seeded_starts_are_reproducible_and_pick_the_lowest_inertia():
  rng = np.random.default_rng(0)
  pts = np.concatenate([rng.normal(c, 0.05, (40, 2)) for c in ((0, 0), (1, 0), (0, 1))])
  w = np.ones(len(pts), np.float32)
  a = seeding.kmeanspp_starts(pts, w, 3, seed=7, starts=5)
  assert a.shape == (5, 3, 2)
  np.testing.assert_array_equal(a, seeding.kmeanspp_starts(pts, w, 3, seed=7, starts=5))
  best = seeding.best_of_starts(pts, w, 3, seed=7, starts=5)
  # The three blobs are found: every blob's points share one label.
  labels = np.asarray(best.labels)
  assert all(len(set(labels[i * 40:(i + 1) * 40])) == 1 for i in range(3))
  one = [float(seeding.best_of_starts(pts, w, 3, seed=s, starts=1).inertia) for s in range(5)]
  assert float(best.inertia) <= min(one) + 1e-4
