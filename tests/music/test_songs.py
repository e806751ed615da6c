"""Song tables: DEAM static annotations and the plain CSV."""

from __future__ import annotations

import numpy as np
import pytest

from jaxvis.errors import InputError
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
  with pytest.raises(ValueError, match="songs.csv:2: column .arousal."):
    songs_lib.load_songs(str(p))
  p.write_text("song_id,valence,arousal\na,0.1,0.2\na,0.3,0.1\n")
  with pytest.raises(ValueError, match="duplicate"):
    songs_lib.load_songs(str(p))
  with pytest.raises(InputError, match="does not exist"):
    songs_lib.load_songs(str(tmp_path / "none.csv"))


@pytest.mark.parametrize("rows, line, problem", [
    ("a,0.1,0.2\nb,nan,0.3\n", 3, "finite"),
    ("a,0.1,0.2\n\nb,0.5,inf\n", 4, "finite"),     # blank lines still count
    ("a,0.1,0.2\nb,0.5,1.5\n", 3, "outside"),
    ("a,0.1,0.2\nb,0.5,\n", 3, "expected a number"),
    ("a,0.1,0.2\nb,0.5,0.1\na,0.3,0.3\n", 4, "duplicate song_id 'a' \\(first at line 2\\)"),
    (",0.1,0.2\n", 2, "empty song_id"),
])
def test_plain_csv_bad_rows_name_file_and_line(tmp_path, rows, line, problem):
  p = tmp_path / "songs.csv"
  p.write_text("song_id,valence,arousal\n" + rows)
  with pytest.raises(InputError, match=problem) as e:
    songs_lib.load_songs(str(p))
  assert e.value.where == f"{p}:{line}"


def test_header_only_songs_file_is_an_error(tmp_path):
  p = tmp_path / "songs.csv"
  p.write_text("song_id,valence,arousal\n")
  with pytest.raises(InputError, match="no songs"):
    songs_lib.load_songs(str(p))


@pytest.mark.parametrize("row, problem", [
    ("4,nan,1,5,1\n", "finite"), ("4,5,1,0.5,1\n", "1-9"), ("2,5,1,5,1\n", "duplicate")])
def test_deam_bad_rows_name_file_and_line(tmp_path, row, problem):
  folder = _deam(tmp_path / "annotations")
  (folder / songs_lib.DEAM_FILES[0]).write_text(DEAM_HEADER + "2,3.1,0.94,3,0.63\n" + row)
  with pytest.raises(InputError, match=problem) as e:
    songs_lib.load_songs(str(folder))
  assert e.value.where == f"{folder / songs_lib.DEAM_FILES[0]}:3"


def test_deam_duplicate_across_files_names_both(tmp_path):
  folder = _deam(tmp_path / "annotations")
  (folder / songs_lib.DEAM_FILES[1]).write_text(DEAM_HEADER + "3,5,1,7,1\n")
  with pytest.raises(InputError, match="duplicate song_id '3'.*static_annotations_averaged_songs_1_2000.csv:3"):
    songs_lib.load_songs(str(folder))


def test_deam_metadata_gives_titles_and_artists(tmp_path):
  # DEAM unpacks annotations and metadata as sibling folders, each with its own layout.
  root = tmp_path / "DEAM"
  ann = root / "annotations" / "annotations averaged per song" / "song_level"
  ann.parent.mkdir(parents=True)
  _deam(ann)
  meta = root / "metadata"
  meta.mkdir()
  (meta / "metadata_2013.csv").write_text(
      "song_id,file_name,Artist,Song title,start of the segment (min.sec),"
      "end of the segment (min.sec),Genre\n"
      '2,2.mp3,\tMichael  Hause ,"\tFeel the Beat ",0.15,0.6,Pop\n'
      "3,3.mp3,The Shrine,Shirobako,1.2,1.65,Rock\n")
  (meta / "metadata_2015.csv").write_text(
      "id,file_name,title,artist,album,genre\n2001,2001.mp3,Song B,Band C,Album,Jazz,Extra\n")
  s = songs_lib.load_songs(str(ann))
  assert s.ids == ("2", "3", "2001")
  assert s.titles == ("Feel the Beat", "Shirobako", "Song B")
  assert s.artists == ("Michael Hause", "The Shrine", "Band C")
  assert "metadata_2013.csv" in s.source
  # 2014's layout puts the title under "Track"; a bad id names its line.
  (meta / "metadata_2014.csv").write_text("Id,Artist,Album,Track,Genre\n1001,A,B,C,D\nx,A,B,C,D\n")
  with pytest.raises(InputError, match="numeric song id") as e:
    songs_lib.load_songs(str(ann))
  assert e.value.where == f"{meta / 'metadata_2014.csv'}:3"
  assert songs_lib.load_deam(str(ann), metadata=None).titles == ("", "", "")
  from jaxvis.music.pipeline import MusicRecommender
  out = MusicRecommender(s, face_boxes=None).recommend(
      np.zeros((8, 8, 3), np.uint8), caption="a happy song").to_json(s)
  assert all(out["song_artists"][i] == dict(zip(s.ids, s.artists))[i] for i in out["songs"])
