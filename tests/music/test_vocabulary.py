"""Any English word: the bundled table plus base-form and compound fallbacks leave no caption word out."""

from __future__ import annotations

import os

import pytest

from jaxvis.music import morph, vocab
from jaxvis.music.pipeline import MusicConfig, MusicRecommender
from jaxvis.music.wordvec import WordVectors

CAPTIONS = os.path.join(os.path.dirname(__file__), "data", "captions50.txt")


def _captions():
  with open(CAPTIONS, encoding="utf-8") as f:
    return [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]


def test_every_word_of_50_common_captions_gets_a_vector():
  caps = _captions()
  assert len(caps) == 50
  wv = WordVectors.bundled(encoder=None)   # the table and its fallbacks alone
  words = sorted({w for c in caps for w in vocab.content_words(vocab.tokenize(c))})
  assert len(words) > 200
  _, found = wv.vectors_for(words)
  assert [w for w, f in zip(words, found) if not f] == []
  # Most are in the table as written; the rest are regular forms or compounds of table
  # words, and at most a couple are guessed from their spelling.
  approx = wv.approximations(words)
  assert len(approx) < 0.1 * len(words), approx
  assert sum(a.endswith("(spelling)") for a in approx.values()) <= 2, approx


def test_words_the_old_table_skipped_are_found():
  wv = WordVectors.bundled(encoder=None)   # the table and its fallbacks alone
  for w in ("sunset", "puppy", "kitten", "fireworks", "volcano", "lighthouse", "snowman",
            "toddler"):
    ids, approx = wv.resolve(w)
    assert ids and approx is None, w
  # Plurals the table leaves out resolve to their singular, which it has.
  assert wv.resolve("kittens")[1] == "kitten" and wv.resolve("giraffes")[1] == "giraffe"


@pytest.mark.parametrize("word, bases", [
    ("puppies", ["puppy"]), ("smiling", ["smile"]), ("running", ["run"]),
    ("happier", ["happy"]), ("carried", ["carry"]), ("knives", ["knife"]), ("men", ["man"]),
    ("quickly", ["quick"]), ("boxes", ["box"])])
def test_base_forms(word, bases):
  got = morph.base_forms(word)
  assert all(b in got for b in bases), got


def test_fallbacks_on_a_small_table():
  wv = WordVectors.from_arrays(["snow", "man", "giraffe", "skate", "board", "red", "ram", "en"],
                               [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1],
                                [1, 0, 1], [1, 2, 3], [3, 2, 1]])
  assert wv.resolve("giraffes")[1] == "giraffe"
  assert wv.resolve("snowman")[1] == "snow + man"
  assert wv.resolve("skateboarding")[1] == "skate + board"
  assert wv.resolve("redman")[1] == "red + man"
  assert wv.resolve("ramen")[1] == "ram + en (spelling)"      # "en" is too short for a compound
  assert wv.resolve("qwzx") == (None, None)
  v, found = wv.vectors_for(["snowman", "qwzx"])
  assert found.tolist() == [True, False]
  assert v[0] == pytest.approx([2 ** -0.5, 2 ** -0.5, 0], abs=1e-6)


def test_unknown_and_approximated_words_are_reported(songs):
  rec = MusicRecommender(songs, wordvecs=WordVectors.bundled(encoder=None), face_boxes=None,
                         config=MusicConfig(use_color=False))
  out = rec.recommend(__import__("numpy").zeros((16, 16, 3), "uint8"),
                      caption="happy qwzxv puppies dancing").to_json()
  assert out["skipped_words"] == ["qwzxv"] and out["num_skipped_words"] == 1
  assert any("qwzxv" in n for n in out["notes"])
  assert out["quadrant"] in (1, 2, 3, 4)
