"""Word vectors: bundled table, gensim back end, top-k on device."""

from __future__ import annotations

import numpy as np
import pytest

from jaxvis.music.wordvec import WordVectors, bucket, top_k_similar


def test_bundled_table_is_unit_and_semantic():
  wv = WordVectors.bundled()
  assert len(wv.words) > 5000 and wv.dim == 384
  assert "MiniLM" in wv.source
  norms = np.linalg.norm(np.asarray(wv.vectors[:100]), axis=1)
  np.testing.assert_allclose(norms, 1.0, atol=1e-3)
  # Related words are closer than unrelated ones.
  assert wv.similarity("dog", "cat") > wv.similarity("dog", "laptop") + 0.15
  assert wv.similarity("sleeping", "sleepy") > wv.similarity("sleeping", "excited") + 0.15


def test_every_default_impression_word_has_a_bundled_vector():
  from jaxvis.music.lexicon import default_lexicon
  known = set(WordVectors.bundled().words)
  assert [w for w in default_lexicon().words if w not in known] == []


def test_vectors_for_marks_unknown_words_and_averages_phrases():
  wv = WordVectors.from_arrays(["red", "car", "blue"], np.eye(3))
  v, found = wv.vectors_for(["red car", "Blue", "qwzx", "red"])
  assert found.tolist() == [True, True, False, True]
  np.testing.assert_allclose(np.asarray(v[0]), [2 ** -0.5, 2 ** -0.5, 0], atol=1e-6)
  np.testing.assert_allclose(np.asarray(v[1]), [0, 0, 1], atol=1e-6)
  np.testing.assert_allclose(np.asarray(v[2]), 0.0)
  with pytest.raises(ValueError, match="qwzx"):
    wv.similarity("red", "qwzx")


def test_top_k_matches_numpy_and_respects_mask():
  rng = np.random.default_rng(0)
  q, k = rng.normal(size=(6, 16)), rng.normal(size=(30, 16))
  sims, idx = top_k_similar(q, k, 5)
  qn = q / np.linalg.norm(q, axis=1, keepdims=True)
  kn = k / np.linalg.norm(k, axis=1, keepdims=True)
  full = qn @ kn.T
  want = np.argsort(-full, axis=1)[:, :5]
  np.testing.assert_array_equal(np.asarray(idx), want)
  np.testing.assert_allclose(np.asarray(sims), np.take_along_axis(full, want, 1), atol=1e-5)
  mask = np.ones(30, bool)
  mask[want[:, 0]] = False
  _, idx2 = top_k_similar(q, k, 5, mask)
  assert not np.isin(np.asarray(idx2), want[:, 0]).any()
  with pytest.raises(ValueError, match="k"):
    top_k_similar(q, k[:3], 5)


def test_bucket_sizes():
  assert [bucket(n) for n in (0, 1, 8, 9, 33)] == [8, 8, 8, 16, 64]


def test_gensim_word2vec_back_end(tmp_path):
  pytest.importorskip("gensim")   # optional dependency (extra "word2vec")
  path = tmp_path / "tiny.txt"
  path.write_text("3 2\nking 1 0\nqueen 0.9 0.1\nbanana 0 1\n")
  wv = WordVectors.from_word2vec(str(path))
  assert wv.words == ("king", "queen", "banana")
  assert wv.similarity("king", "queen") > 0.99 and abs(wv.similarity("king", "banana")) < 1e-6
  from gensim.models import KeyedVectors
  kv = KeyedVectors.load_word2vec_format(str(path), binary=False)
  kv.save_word2vec_format(str(tmp_path / "tiny.bin"), binary=True)
  wv2 = WordVectors.from_word2vec(str(tmp_path / "tiny.bin"))
  np.testing.assert_allclose(np.asarray(wv2.vectors), np.asarray(wv.vectors), atol=1e-6)
