"""AV lexicon loaders: Warriner, NRC VAD (v1 and v2) and plain layouts."""

from __future__ import annotations

import numpy as np
import pytest

from jaxvis.errors import InputError
from jaxvis.music import lexicon, plane


def test_warriner_layout_maps_1_to_9_onto_unit_interval(tmp_path):
  p = tmp_path / "Ratings_Warriner_et_al.csv"
  p.write_text(",Word,V.Mean.Sum,V.SD.Sum,V.Rat.Sum,A.Mean.Sum,A.SD.Sum,A.Rat.Sum,D.Mean.Sum\n"
               "1,aardvark,6.26,2.21,19,2.41,1.4,22,4.27\n"
               "2,abandon,1,1,19,9,1,22,3\n"
               "3,calm,5,1,19,5,1,22,3\n")
  lex = lexicon.load_lexicon(str(p))
  assert lex.words == ("aardvark", "abandon", "calm")
  np.testing.assert_allclose(lex.va, [[(6.26 - 5) / 4, (2.41 - 5) / 4], [-1, 1], [0, 0]],
                             atol=1e-6)


def test_nrc_vad_v1_tab_layout_maps_0_to_1(tmp_path):
  p = tmp_path / "NRC-VAD-Lexicon.txt"
  p.write_text("Word\tValence\tArousal\tDominance\naaaaaaah\t0.479\t0.606\t0.291\n"
               "joy\t1.000\t0.000\t0.5\n")
  lex = lexicon.load_lexicon(str(p))
  np.testing.assert_allclose(lex.va, [[-0.042, 0.212], [1.0, -1.0]], atol=1e-6)


def test_nrc_vad_v2_is_already_signed(tmp_path):
  p = tmp_path / "NRC-VAD-Lexicon-v2.1.txt"
  p.write_text("term\tvalence\tarousal\tdominance\njoy\t0.92\t0.74\t0.36\n"
               "funeral\t-0.78\t-0.22\t-0.5\n")
  lex = lexicon.load_lexicon(str(p))
  np.testing.assert_allclose(lex.va, [[0.92, 0.74], [-0.78, -0.22]], atol=1e-6)


def test_plain_layout_and_out_of_range_error(tmp_path):
  p = tmp_path / "plain.csv"
  p.write_text("# comment\nword,valence,arousal\nHappy,0.8,0.5\n")
  lex = lexicon.load_lexicon(str(p))
  assert lex.words == ("happy",) and lex.va.tolist() == [[pytest.approx(0.8), 0.5]]
  p.write_text("word,valence,arousal\nhappy,3,0.5\n")
  with pytest.raises(InputError, match="outside"):
    lexicon.load_lexicon(str(p))


@pytest.mark.parametrize("body, line, problem", [
    ("# c\nword,valence,arousal\nhappy,0.8,0.5\n\nsad,nan,0.1\n", 5, "finite"),
    ("word,valence,arousal\nHappy,0.8,0.5\nhappy,0.1,0.1\n", 3,
     "duplicate word 'happy' \\(first at line 2\\)"),
    ("word,valence,arousal\nhappy,0.8\n", 2, "columns"),
    ("word,valence,arousal\nhappy,x,0.5\n", 2, "expected a number"),
])
def test_bad_lexicon_rows_name_file_and_line(tmp_path, body, line, problem):
  p = tmp_path / "lex.csv"
  p.write_text(body)
  with pytest.raises(InputError, match=problem) as e:
    lexicon.load_lexicon(str(p))
  assert e.value.where == f"{p}:{line}"


def test_warriner_value_off_its_1_9_scale_is_rejected(tmp_path):
  p = tmp_path / "w.csv"
  p.write_text(",Word,V.Mean.Sum,A.Mean.Sum\n1,calm,5,0.5\n")
  with pytest.raises(InputError, match="outside.*warriner") as e:
    lexicon.load_lexicon(str(p))
  assert e.value.where.endswith(":2")


def test_empty_lexicon_is_an_error_not_the_default(tmp_path):
  p = tmp_path / "empty.csv"
  p.write_text("")
  with pytest.raises(InputError, match="no rows"):
    lexicon.load_lexicon(str(p))
  p.write_text("word,valence,arousal\n")
  with pytest.raises(InputError, match="no words"):
    lexicon.load_lexicon(str(p))


def test_bad_files_name_the_problem(tmp_path):
  p = tmp_path / "x.csv"
  p.write_text("foo,bar\n1,2\n")
  with pytest.raises(ValueError, match="not a known AV lexicon layout"):
    lexicon.load_lexicon(str(p))
  with pytest.raises(InputError, match="does not exist"):
    lexicon.load_lexicon(str(tmp_path / "missing.csv"))
  with pytest.raises(ValueError, match="layout"):
    lexicon.load_lexicon(str(p), layout="anew")


def test_default_lexicon_is_a_glasgow_norms_subset_over_all_quadrants():
  lex = lexicon.default_lexicon()
  assert "Glasgow Norms" in lex.source and "CC BY 4.0" in lex.source
  assert len(lex) >= 150 and len(set(lex.words)) == len(lex)
  assert lex.va.shape == (len(lex), 2) and (np.abs(lex.va) <= 1).all()
  # Every row comes from the 1-9 norms through (mean - 5) / 4: a multiple of 1/4000 (3 decimals).
  np.testing.assert_allclose(lex.va * 4000, np.round(lex.va * 4000), atol=0.51)
  v, a = lex.va[:, 0], lex.va[:, 1]
  per_quadrant = [((v >= 0) & (a >= 0)).sum(), ((v < 0) & (a >= 0)).sum(),
                  ((v < 0) & (a < 0)).sum(), ((v >= 0) & (a < 0)).sum()]
  assert min(per_quadrant) >= 15, per_quadrant


@pytest.mark.parametrize("word, valence, arousal, quadrant", [
    ("happy", 0.8105, 0.4845, 1),      # Glasgow VAL 8.242, AROU 6.938
    ("calm", 0.5857, -0.3143, 4),      # 7.343, 3.743
    ("relaxing", 0.6818, -0.3985, 4),  # 7.727, 3.406
    ("angry", -0.6515, 0.2265, 2),     # 2.394, 5.906
    ("sad", -0.7000, -0.2648, 3),      # 2.200, 3.941
    ("gloomy", -0.5780, -0.5160, 3),   # 2.688, 2.936
])
def test_default_lexicon_values_match_the_norms(word, valence, arousal, quadrant):
  lex = lexicon.default_lexicon()
  v, a = lex.va[lex.words.index(word)]
  assert (v, a) == (pytest.approx(valence, abs=1e-4), pytest.approx(arousal, abs=1e-4))
  assert int(plane.quadrant_of(np.array([v, a], np.float32))) == quadrant


def test_default_lexicon_file_states_source_licence_and_mapping():
  import importlib.resources
  text = (importlib.resources.files("jaxvis") / "assets" / "music" /
          "impression_words.csv").read_text(encoding="utf-8")
  header = "\n".join(ln for ln in text.splitlines() if ln.startswith("#"))
  for needed in ("Scott", "Glasgow Norms", "10.3758/s13428-018-1099-3", "CC BY 4.0",
                 "(VAL mean - 5) / 4", "(AROU mean - 5) / 4", "Selection rule",
                 "13428_2018_1099_MOESM2_ESM.csv"):
    assert needed in header, needed


def test_balanced_subset_has_equal_quadrants_and_keeps_the_clearest_words():
  lex = lexicon.default_lexicon()
  bal = lexicon.balanced(lex)
  q = np.asarray(plane.quadrant_of(bal.va))
  assert [int((q == k).sum()) for k in (1, 2, 3, 4)] == [19] * 4
  assert set(bal.words) <= set(lex.words) and "balanced" in bal.source
  # Within a quadrant no dropped word lies farther out than a kept one.
  full_q = np.asarray(plane.quadrant_of(lex.va))
  r = np.hypot(lex.va[:, 0], lex.va[:, 1])
  kept = np.isin(lex.words, bal.words)
  for k in (1, 2, 3):
    assert r[(full_q == k) & ~kept].max() <= r[(full_q == k) & kept].min()
  with pytest.raises(InputError, match="per_quadrant"):
    lexicon.balanced(lex, per_quadrant=20)
