"""Song tables on the arousal-valence plane: DEAM and plain CSV.

* DEAM (MediaEval Database for Emotional Analysis in Music, Aljanaki, Yang &
  Soleymani 2017): `static_annotations_averaged_songs_1_2000.csv` and
  `static_annotations_averaged_songs_2000_2058.csv`. Their header names carry a
  leading space (`song_id, valence_mean, valence_std, arousal_mean, ...`);
  the means are on the 1-9 scale and map to [-1, 1] by `(x - 5) / 4`.
* plain CSV: `song_id,valence,arousal,title` with values already in [-1, 1]
  (`title` may be left out).

    songs = load_songs("path/to/DEAM/annotations")   # a folder, a DEAM file, or a plain CSV
"""

from __future__ import annotations

import csv
import dataclasses
import glob
import os

import numpy as np

DEAM_FILES = ("static_annotations_averaged_songs_1_2000.csv",
              "static_annotations_averaged_songs_2000_2058.csv")
PLAIN_COLUMNS = ("song_id", "valence", "arousal")


@dataclasses.dataclass(frozen=True)
class Songs:
  """Songs with static AV coordinates.

  Attributes:
    ids: song ids (strings).
    va: (N, 2) float32 (valence, arousal) in [-1, 1].
    titles: one title per song ("" where unknown).
    source: where they come from.
  """
  ids: tuple[str, ...]
  va: np.ndarray
  titles: tuple[str, ...]
  source: str

  def __len__(self) -> int:
    return len(self.ids)


def _read_csv(path: str) -> tuple[list[str], list[dict[str, str]]]:
  with open(path, "r", encoding="utf-8-sig", newline="") as f:
    reader = csv.reader(f)
    try:
      raw_header = next(reader)
    except StopIteration:
      raise ValueError(f"songs: {path!r} is empty; expected a CSV header") from None
    header = [h.strip().lower() for h in raw_header]
    rows = [dict(zip(header, (c.strip() for c in row))) for row in reader if any(row)]
  return header, rows


def _floats(rows, column: str, path: str) -> np.ndarray:
  out = []
  for n, row in enumerate(rows, start=2):
    try:
      out.append(float(row[column]))
    except (KeyError, ValueError):
      raise ValueError(f"songs: {path!r} line {n}: column {column!r} expected a number, "
                       f"got {row.get(column)!r}") from None
  return np.asarray(out, np.float64)


def load_deam(paths) -> Songs:
  """Reads one or both DEAM static-annotation CSVs (or a folder holding them)."""
  if isinstance(paths, str):
    paths = [paths]
  files = []
  for p in paths:
    if os.path.isdir(p):
      found = [f for name in DEAM_FILES for f in glob.glob(os.path.join(p, "**", name),
                                                          recursive=True)]
      if not found:
        raise FileNotFoundError(f"songs: no DEAM static annotation files {DEAM_FILES} "
                                f"under {p!r}")
      files += sorted(set(found))
    elif os.path.isfile(p):
      files.append(p)
    else:
      raise FileNotFoundError(f"songs: no such file or folder {p!r}")
  ids, va = [], []
  for path in files:
    header, rows = _read_csv(path)
    for col in ("song_id", "valence_mean", "arousal_mean"):
      if col not in header:
        raise ValueError(f"songs: {path!r} lacks the DEAM column {col!r} "
                         f"(columns: {header})")
    v, a = _floats(rows, "valence_mean", path), _floats(rows, "arousal_mean", path)
    if ((v < 1) | (v > 9) | (a < 1) | (a > 9)).any():
      raise ValueError(f"songs: {path!r}: DEAM means must lie on the 1-9 scale")
    ids += [r["song_id"] for r in rows]
    va.append(np.stack([(v - 5.0) / 4.0, (a - 5.0) / 4.0], axis=1))
  va_arr = np.concatenate(va).astype(np.float32) if va else np.zeros((0, 2), np.float32)
  return _finish(ids, va_arr, [""] * len(ids), "DEAM static annotations: " +
                 ", ".join(os.path.basename(f) for f in files))


def load_songs_csv(path: str) -> Songs:
  """Reads a plain `song_id,valence,arousal[,title]` CSV with values in [-1, 1]."""
  if not os.path.isfile(path):
    raise FileNotFoundError(f"songs: no such file {path!r}")
  header, rows = _read_csv(path)
  missing = [c for c in PLAIN_COLUMNS if c not in header]
  if missing:
    raise ValueError(f"songs: {path!r} is missing the column(s) {missing}; expected a header "
                     f"song_id,valence,arousal,title (got {header})")
  v, a = _floats(rows, "valence", path), _floats(rows, "arousal", path)
  if (np.abs(v) > 1).any() or (np.abs(a) > 1).any():
    raise ValueError(f"songs: {path!r}: valence and arousal must lie in [-1, 1] "
                     "(DEAM's 1-9 files are read by load_deam)")
  titles = [r.get("title", "") for r in rows]
  return _finish([r["song_id"] for r in rows], np.stack([v, a], 1).astype(np.float32),
                 titles, os.path.basename(path))


def load_songs(path: str) -> Songs:
  """A DEAM folder/file or a plain CSV, told apart by the header."""
  if os.path.isdir(path):
    return load_deam(path)
  if not os.path.isfile(path):
    raise FileNotFoundError(f"songs: no such file or folder {path!r}")
  header, _ = _read_csv(path)
  if "valence_mean" in header or "arousal_mean" in header:
    return load_deam(path)
  return load_songs_csv(path)


def _finish(ids, va, titles, source) -> Songs:
  if len(ids) == 0:
    raise ValueError(f"songs: {source} holds no songs")
  if len(set(ids)) != len(ids):
    dup = sorted({i for i in ids if ids.count(i) > 1})[:5]
    raise ValueError(f"songs: duplicate song_id values {dup} in {source}")
  return Songs(tuple(ids), va, tuple(titles), source)
