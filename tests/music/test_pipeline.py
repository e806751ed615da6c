"""The whole pipeline, the CLI and its outcomes for poor input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from jaxvis import cli
from jaxvis.music import extract, synthetic
from jaxvis.music.pipeline import MusicConfig, MusicRecommender


@pytest.fixture(scope="module")
def photo():
  from skimage import data
  return data.astronaut()


@pytest.fixture(scope="module")
def recommender(songs):
  return MusicRecommender(songs, face_boxes=None)


def test_method_b_with_caption_detections_and_colour(recommender, photo, songs):
  dets = extract.parse_detections([{"label": "person", "box": [100, 20, 420, 512]},
                                   {"label": "flag", "box": [0, 0, 100, 200]}])
  rec = recommender.recommend(photo, dets, caption="a woman in a space suit with a flag qwzx")
  out = rec.to_json(songs)
  assert out["method"] == "B"
  assert out["quadrant"] in (1, 2, 3, 4)
  assert out["skipped_words"] == ["qwzx"] and out["num_skipped_words"] == 1
  # Colour words were inserted before the caption words most similar to the labels.
  targets = {c["label"]: c["target"] for c in out["colors"]}
  assert targets["flag"] == "flag" and targets["person"] == "woman"
  colour_of = {c["label"]: c["color"] for c in out["colors"]}
  assert f'{colour_of["person"]} woman' in out["caption"]
  assert f'{colour_of["flag"]} flag' in out["caption"]
  # 5 impression words per known content word, weights normalised so each word's best is 1.
  by_source = {}
  for w in out["words"]:
    by_source.setdefault(w["source"], []).append(w["weight"])
  assert all(len(v) <= 5 and max(v) == pytest.approx(1.0) for v in by_source.values())
  for w in out["words"]:
    assert w["x"] == pytest.approx(w["valence"] * w["weight"], abs=1e-3)
  assert sum(out["quadrant_counts"]) == len(out["words"])
  # Narrowed songs are the songs of the clusters whose centre is in the chosen quadrant.
  in_q = [c["song"] for c in out["clusters"] if c["size"] and c["quadrant"] == out["quadrant"]]
  assert out["songs"] == list(dict.fromkeys(in_q)) or out["narrowing_failed"]
  assert set(out["songs_without_narrowing"]) == {c["song"] for c in out["clusters"] if c["size"]}
  assert all(s in songs.ids for s in out["songs"])


def test_method_a_uses_area_weights(recommender, photo):
  dets = extract.parse_detections([{"label": "person", "box": [0, 0, 100, 100]},
                                   {"label": "dog", "box": [0, 0, 50, 50]}])
  rec = recommender.recommend(photo, dets)
  assert rec.extraction.method == "A"
  weights = {w["source"]: w["weight"] for w in rec.to_json()["words"]}
  assert weights == pytest.approx({"person": 1.0, "dog": 0.25})


def test_reference_means_change_the_quadrant(songs, photo):
  ex = MusicRecommender(songs, face_boxes=None).extract(photo, caption="happy party dance")
  base = MusicRecommender(songs, face_boxes=None).recommend_words(ex)
  counts = np.asarray(base.counts, float)
  # A reference set that saw the winning quadrant very often divides it down.
  ref = np.ones(4)
  ref[base.quadrant - 1] = 1e3
  other = MusicRecommender(songs, face_boxes=None, reference_means=ref).recommend_words(ex)
  assert other.quadrant != base.quadrant and counts[other.quadrant - 1] > 0
  with pytest.raises(ValueError, match="reference_means"):
    MusicRecommender(songs, face_boxes=None, reference_means=[1, 2, 3])


@pytest.mark.parametrize("caption, quadrant", [
    ("happy party dance", 1),
    ("an angry crowd fighting", 2),
    ("a sad lonely funeral in the rain", 3),
    ("a calm peaceful beach", 4),
])
def test_caption_mood_picks_its_quadrant_with_the_default_lexicon(songs, caption, quadrant):
  # Caption words only (no colour, no detections): the bundled Glasgow Norms impression words
  # must place an obviously happy / angry / sad / calm caption in quadrant 1 / 2 / 3 / 4.
  rec = MusicRecommender(songs, face_boxes=None, config=MusicConfig(use_color=False))
  out = rec.recommend(np.full((32, 32, 3), 128, np.uint8), caption=caption).to_json()
  assert out["quadrant"] == quadrant, (out["quadrant_counts"], [w["word"] for w in out["words"]])


def test_expression_word_goes_before_person_words(songs, trained_expression):
  model, variables, _ = trained_expression
  rng = np.random.default_rng(1)
  face = synthetic.cartoon_face(3, rng)
  image = np.full((64, 64, 3), 90, np.uint8)
  image[8:56, 8:56] = face[..., None]
  rec = MusicRecommender(songs, expression_model=(model, variables),
                         face_boxes=lambda img: np.array([[8, 8, 55, 55]]),
                         config=MusicConfig(use_color=False))
  out = rec.recommend(image, caption="a man sitting on a bench").to_json()
  assert out["num_faces"] == 1 and out["expression"] is not None
  cap = out["caption"].split()
  from jaxvis.music.vocab import EXPRESSION_ADJECTIVES
  assert cap[cap.index("man") - 1] == EXPRESSION_ADJECTIVES[out["expression"]]


def test_nothing_extracted_gives_a_message_not_a_crash(songs):
  rec = MusicRecommender(songs, face_boxes=None, config=MusicConfig(use_color=False))
  out = rec.recommend(np.zeros((32, 32, 3), np.uint8)).to_json()
  assert out["quadrant"] is None and out["songs"] == [] and "nothing" in out["message"]
  out = rec.recommend(np.zeros((32, 32, 3), np.uint8), caption="qwzx zzqv").to_json()
  assert out["num_skipped_words"] == 2 and "outside the vocabulary" in out["message"]
  with pytest.raises(ValueError, match="image"):
    rec.recommend(np.zeros((32, 32)))


def test_cli_recommend_json_and_plot(tmp_path, photo, capsys):
  img = tmp_path / "photo.png"
  Image.fromarray(photo[::4, ::4]).save(img)
  songs_csv = tmp_path / "songs.csv"
  s = synthetic.illustrative_songs(20)
  songs_csv.write_text("song_id,valence,arousal,title\n" + "".join(
      f"{i},{v:.4f},{a:.4f},{t}\n" for i, (v, a), t in zip(s.ids, s.va, s.titles)))
  dets = tmp_path / "d.json"
  dets.write_text(json.dumps([{"label": "person", "box": [20, 5, 100, 128]}]))
  plot = tmp_path / "av.png"
  rc = cli.main(["music", "recommend", str(img), "--songs", str(songs_csv), "--detections",
                 str(dets), "--caption", "an astronaut smiling", "--json", "--plot", str(plot),
                 "--no-faces"])
  out = json.loads(capsys.readouterr().out)
  assert rc == 0 and out["quadrant"] in (1, 2, 3, 4)
  assert out["songs"] and all(x in s.ids for x in out["songs"])
  assert isinstance(out["words"], list) and out["words"]
  assert plot.stat().st_size > 10_000
  # The plain form, without detections or caption, still answers.
  rc = cli.main(["music", "recommend", str(img), "--songs", str(songs_csv), "--json",
                 "--no-faces"])
  out = json.loads(capsys.readouterr().out)
  assert rc == 0 and out["quadrant"] in (1, 2, 3, 4) and out["songs"]


def test_cli_errors_name_the_problem(tmp_path, capsys):
  img = tmp_path / "x.png"
  Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(img)
  bad = tmp_path / "songs.csv"
  bad.write_text("song_id,valence,title\n1,0.1,x\n")
  assert cli.main(["music", "recommend", str(img), "--songs", str(bad), "--json"]) == 2
  assert "arousal" in capsys.readouterr().err
  assert cli.main(["music", "recommend", str(tmp_path / "none.png"), "--songs", str(bad)]) == 2
  assert "argument image: " in capsys.readouterr().err  # checked before any work
  # A NaN song, a NaN reference average and an empty lexicon: file and line, exit 2.
  bad.write_text("song_id,valence,arousal\n1,0.1,0.2\n2,nan,0.5\n")
  assert cli.main(["music", "recommend", str(img), "--songs", str(bad)]) == 2
  assert f"error: {bad}:3: column 'valence'" in capsys.readouterr().err
  bad.write_text("song_id,valence,arousal\n1,0.1,0.2\n")
  ref = tmp_path / "ref.json"
  ref.write_text('{\n  "images": 3,\n  "reference_means": [1.0, NaN, 2.0, 1.0]\n}')
  assert cli.main(["music", "recommend", str(img), "--songs", str(bad), "--reference",
                   str(ref)]) == 2
  assert f"error: {ref}:3: reference_means: expected finite" in capsys.readouterr().err
  lex = tmp_path / "lex.csv"
  lex.write_text("word,valence,arousal\n")
  assert cli.main(["music", "recommend", str(img), "--songs", str(bad), "--lexicon",
                   str(lex)]) == 2
  assert "no words" in capsys.readouterr().err


def test_empty_lexicon_object_is_refused_not_replaced(songs):
  from jaxvis.errors import InputError
  from jaxvis.music.lexicon import AVLexicon
  empty = AVLexicon((), np.zeros((0, 2), np.float32), "empty")
  with pytest.raises(InputError, match="no impression words"):
    MusicRecommender(songs, lexicon=empty, face_boxes=None)
