"""Song tables: DEAM static annotations and the plain CSV."""

from __future__ import annotations

import numpy as np
import pytest

from jaxvis.music import songs as songs_lib

DEAM_HEADER = "song_id, valence_mean, valence_std, arousal_mean, arousal_std\n"


def _deam(folder):
  folder.mkdir()
  (folder / songs_lib.DEAM_FILES[0]).write_text(
      DEAM_HEADER + "2,3.1,0.94,3,0.63\n3,9,1.1,1,1.2\n")
  (folder / songs_lib.DEAM_FILES[1]).write_text(DEAM_HEADER + "2001,5,1,7,1\n")
  return folder


def test_deam_reader_strips_leading_spaces_and_rescales(tmp_path):
  folder = _deam(tmp_path / "annotations")
  s = songs_lib.load_songs(str(folder))
  assert s.ids == ("2", "3", "2001")
  np.testing.assert_allclose(s.va, [[(3.1 - 5) / 4, -0.5], [1, -1], [0, 0.5]], atol=1e-6)
  one = songs_lib.load_songs(str(folder / songs_lib.DEAM_FILES[1]))
  assert one.ids == ("2001",)


def test_plain_csv_and_missing_column_error(tmp_path):
  p = tmp_path / "songs.csv"
  p.write_text("song_id,valence,arousal,title\na,0.5,-0.25,Calm song\nb,-1,1,Angry song\n")
  s = songs_lib.load_songs(str(p))
  assert s.titles == ("Calm song", "Angry song")
  np.testing.assert_allclose(s.va, [[0.5, -0.25], [-1, 1]])
  p.write_text("song_id,valence,title\na,0.5,x\n")
  with pytest.raises(ValueError, match="arousal"):
    songs_lib.load_songs(str(p))
  p.write_text("song_id,valence,arousal\na,5,5\n")
  with pytest.raises(ValueError, match=r"\[-1, 1\]"):
    songs_lib.load_songs(str(p))
  p.write_text("song_id,valence,arousal\na,0.1,x\n")
  with pytest.raises(ValueError, match="line 2"):
    songs_lib.load_songs(str(p))
  p.write_text("song_id,valence,arousal\na,0.1,0.2\na,0.3,0.1\n")
  with pytest.raises(ValueError, match="duplicate"):
    songs_lib.load_songs(str(p))
  with pytest.raises(FileNotFoundError, match="songs"):
    songs_lib.load_songs(str(tmp_path / "none.csv"))
