"""Song tables on the arousal-valence plane: DEAM and plain CSV.

* DEAM (MediaEval Database for Emotional Analysis in Music, Aljanaki, Yang &
  Soleymani 2017): `static_annotations_averaged_songs_1_2000.csv` and
  `static_annotations_averaged_songs_2000_2058.csv`. Their header names carry a
  leading space (`song_id, valence_mean, valence_std, arousal_mean, ...`);
  the means are on the 1-9 scale and map to [-1, 1] by `(x - 5) / 4`.
* DEAM metadata (`metadata/metadata_2013.csv`, `_2014`, `_2015`): titles and artists,
  found beside the annotations when present.
* plain CSV: `song_id,valence,arousal,title[,artist]` with values already in [-1, 1]
  (`title` may be left out).

Every value is checked: a NaN, an out-of-range mean or a duplicate song id is an
`InputError` naming the file and line (a NaN song would otherwise win every
nearest-song search).

    songs = load_songs("path/to/DEAM/annotations")   # a folder, a DEAM file, or a plain CSV
"""

from __future__ import annotations

import dataclasses
import glob
import os
import re

import numpy as np

from jaxvis.errors import InputError, at_line
from jaxvis.music import tables

DEAM_FILES = ("static_annotations_averaged_songs_1_2000.csv",
              "static_annotations_averaged_songs_2000_2058.csv")
# DEAM's metadata folder: metadata_2013.csv (song_id, file_name, Artist, Song title, ...),
# metadata_2014.csv (Id, Artist, Album, Track, Genre, ...), metadata_2015.csv
# (id, file_name, title, artist, album, genre...).
DEAM_METADATA = re.compile(r"metadata_20\d\d\.csv$")
PLAIN_COLUMNS = ("song_id", "valence", "arousal")
_TITLE_COLUMNS = ("song title", "track", "title")


@dataclasses.dataclass(frozen=True)
class Songs:
  """Songs with static AV coordinates.

  Attributes:
    ids: song ids (strings).
    va: (N, 2) float32 (valence, arousal) in [-1, 1].
    titles: one title per song ("" where unknown).
    source: where they come from.
    artists: one artist per song ("" where unknown; empty tuple: none known).
  """
  ids: tuple[str, ...]
  va: np.ndarray
  titles: tuple[str, ...]
  source: str
  artists: tuple[str, ...] = ()

  def __len__(self) -> int:
    return len(self.ids)

  def artist(self, i: int) -> str:
    return self.artists[i] if self.artists else ""


def _deam_files(p: str) -> list[str]:
  if os.path.isdir(p):
    found = [f for name in DEAM_FILES
             for f in glob.glob(os.path.join(glob.escape(p), "**", name), recursive=True)]
    if not found:
      raise InputError(p, f"holds no DEAM static annotation file {DEAM_FILES}")
    return sorted(set(found))
  if os.path.isfile(p):
    return [p]
  raise InputError(p, "does not exist (expected a DEAM annotations folder or CSV)")


def load_deam(paths, metadata="auto") -> Songs:
  """Reads one or both DEAM static-annotation CSVs (or a folder holding them).

  Args:
    paths: a folder, a file, or a list of them.
    metadata: DEAM metadata files or folders for titles and artists; "auto" looks
      under the given folders and beside their ancestors (DEAM ships annotations and
      metadata as sibling folders); None reads none.

  Every row must have a song id and finite means on the 1-9 scale; a song id may
  appear once across all files. Errors name the file and line.
  """
  if isinstance(paths, (str, os.PathLike)):
    paths = [os.fspath(paths)]
  files = [f for p in paths for f in _deam_files(p)]
  ids, va = [], []
  seen = tables.UniqueKeys(files[0] if files else "", "song_id")
  for path in files:
    header, records = tables.read_csv(path, "DEAM static annotations")
    tables.require_columns(header, ("song_id", "valence_mean", "arousal_mean"), path,
                           "expected DEAM's static_annotations_averaged_songs_*.csv")
    for rec in records:
      sid = rec[1].get("song_id", "")
      if not sid:
        raise InputError(at_line(path, rec[0]), "empty song_id")
      seen.add(sid, rec[0], path)
      v = tables.number(rec, "valence_mean", path, 1.0, 9.0, "DEAM means are on the 1-9 scale")
      a = tables.number(rec, "arousal_mean", path, 1.0, 9.0, "DEAM means are on the 1-9 scale")
      ids.append(sid)
      va.append(((v - 5.0) / 4.0, (a - 5.0) / 4.0))
  meta_files = (_find_metadata(paths) if metadata == "auto"
                else [] if metadata is None else
                [f for p in ([metadata] if isinstance(metadata, str) else metadata)
                 for f in _metadata_files(p)])
  info = read_deam_metadata(meta_files) if meta_files else {}
  titles = [info.get(i, ("", ""))[0] for i in ids]
  artists = [info.get(i, ("", ""))[1] for i in ids]
  source = "DEAM static annotations: " + ", ".join(os.path.basename(f) for f in files)
  if meta_files:
    source += f"; titles from {', '.join(os.path.basename(f) for f in meta_files)}"
  return _finish(ids, np.asarray(va, np.float32).reshape(-1, 2), titles, source, artists)


def _metadata_files(p: str) -> list[str]:
  if os.path.isdir(p):
    return sorted(f for f in glob.glob(os.path.join(glob.escape(p), "**", "*.csv"),
                                       recursive=True) if DEAM_METADATA.search(f))
  if os.path.isfile(p):
    return [p]
  raise InputError(p, "does not exist (expected DEAM metadata_20XX.csv files or their folder)")


def _find_metadata(paths) -> list[str]:
  for p in paths:
    folder = p if os.path.isdir(p) else os.path.dirname(os.path.abspath(p))
    found = _metadata_files(folder)
    # Annotations and metadata are sibling folders of the unpacked DEAM archives.
    anc = os.path.abspath(folder)
    for _ in range(4):
      if found:
        break
      anc = os.path.dirname(anc)
      if os.path.isdir(os.path.join(anc, "metadata")):
        found = _metadata_files(os.path.join(anc, "metadata"))
    if found:
      return found
  return []


def _clean(text: str) -> str:
  # DEAM's metadata cells carry tabs, padding and stray quotes.
  return re.sub(r"\s+", " ", text.replace("\t", " ")).strip().strip('"').strip()


def read_deam_metadata(files) -> dict[str, tuple[str, str]]:
  """song_id -> (title, artist) from DEAM's metadata_2013/2014/2015.csv (columns by header)."""
  out: dict[str, tuple[str, str]] = {}
  seen = tables.UniqueKeys(files[0] if files else "", "song_id")
  for path in files:
    header, rows = tables.parse_rows(tables.open_text(path, "DEAM metadata", "latin-1"), path, ",")
    low = [h.lower() for h in header]
    it = next((low.index(c) for c in _TITLE_COLUMNS if c in low), None)
    ia = low.index("artist") if "artist" in low else None
    if it is None or ia is None:
      raise InputError(path, f"is not a DEAM metadata file: expected an id column, 'artist' "
                             f"and one of {_TITLE_COLUMNS} (columns: {header})")
    for line, row in rows:
      sid = _clean(row[0]) if row else ""
      if not sid.isdigit():
        raise InputError(at_line(path, line), f"expected a numeric song id first, got {sid!r}")
      seen.add(sid, line, path)
      cell = lambda i: _clean(row[i]) if i < len(row) else ""
      out[sid] = (cell(it), cell(ia))
  return out


def load_songs_csv(path: str) -> Songs:
  """Reads a plain `song_id,valence,arousal[,title[,artist]]` CSV with values in [-1, 1]."""
  header, records = tables.read_csv(path, "songs")
  tables.require_columns(header, PLAIN_COLUMNS, path,
                         "expected a header song_id,valence,arousal,title")
  ids, va, titles, artists = [], [], [], []
  seen = tables.UniqueKeys(path, "song_id")
  for rec in records:
    sid = rec[1].get("song_id", "")
    if not sid:
      raise InputError(at_line(path, rec[0]), "empty song_id")
    seen.add(sid, rec[0])
    hint = "plain songs CSVs are on [-1, 1]; DEAM's 1-9 files are read by load_deam"
    va.append((tables.number(rec, "valence", path, -1.0, 1.0, hint),
               tables.number(rec, "arousal", path, -1.0, 1.0, hint)))
    ids.append(sid)
    titles.append(rec[1].get("title", ""))
    artists.append(rec[1].get("artist", ""))
  return _finish(ids, np.asarray(va, np.float32).reshape(-1, 2), titles,
                 os.path.basename(path), artists)


def load_songs(path: str) -> Songs:
  """A DEAM folder/file or a plain CSV, told apart by the header."""
  if os.path.isdir(path):
    return load_deam(path)
  header, _ = tables.read_csv(path, "songs")
  if "valence_mean" in header or "arousal_mean" in header:
    return load_deam(path)
  return load_songs_csv(path)


def _finish(ids, va, titles, source, artists=()) -> Songs:
  if len(ids) == 0:
    raise InputError(source, "holds no songs (a header but no data rows)")
  return Songs(tuple(ids), va, tuple(titles), source,
               tuple(artists) if any(artists) else ())
