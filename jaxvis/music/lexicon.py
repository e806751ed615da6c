"""Arousal-valence (AV) lexicons: words with known coordinates on Russell's plane.

Three CSV layouts are read, every scale is mapped onto [-1, 1]:

* Warriner, Kuperman & Brysbaert (2013), `Ratings_Warriner_et_al.csv` /
  `BRM-emot-submit.csv`: columns `Word`, `V.Mean.Sum`, `A.Mean.Sum` on a 1-9 scale.
* NRC VAD (Mohammad 2018, v1): tab-separated `Word  Valence  Arousal  Dominance`
  on 0-1; v2 (2025): `term  valence  arousal  dominance` already on -1..1.
* plain: `word,valence,arousal` already on -1..1 (the bundled default; lines
  starting with `#` are comments).

The bundled default (`default_lexicon()`) is a 238-word subset of the Glasgow Norms
(Scott et al. 2019, CC BY 4.0) chosen as impression words; its file header gives the
citation, licence, selection rule and the 1-9 -> [-1, 1] mapping.

    lex = load_lexicon("Ratings_Warriner_et_al.csv")   # layout detected from the header
    lex = default_lexicon()                              # bundled, see its header for the source
"""

from __future__ import annotations

import csv
import dataclasses
import importlib.resources
import io
import os

import numpy as np

LAYOUTS = ("auto", "warriner", "nrc_vad", "plain")


@dataclasses.dataclass(frozen=True)
class AVLexicon:
  """Words with valence/arousal coordinates.

  Attributes:
    words: lower-case words, unique.
    va: (N, 2) float32 (valence, arousal) in [-1, 1].
    source: where the values come from.
  """
  words: tuple[str, ...]
  va: np.ndarray
  source: str

  def __len__(self) -> int:
    return len(self.words)

  def subset(self, keep) -> "AVLexicon":
    """The lexicon restricted to the words for which `keep` (bool per word) is true."""
    keep = np.asarray(keep, bool)
    return AVLexicon(tuple(w for w, k in zip(self.words, keep) if k), self.va[keep], self.source)


def _linear(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
  """Maps [lo, hi] linearly onto [-1, 1]."""
  return (2.0 * (x - lo) / (hi - lo) - 1.0).astype(np.float32)


def _read_rows(text: str, path: str) -> tuple[list[str], list[list[str]]]:
  lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
  if not lines:
    raise ValueError(f"path: {path!r} holds no rows")
  delim = "\t" if "\t" in lines[0] else ","
  rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delim))
  return [h.strip() for h in rows[0]], rows[1:]


def _detect_layout(header: list[str], path: str) -> str:
  low = [h.lower() for h in header]
  if "v.mean.sum" in low and "a.mean.sum" in low:
    return "warriner"
  if ("word" in low or "term" in low) and "valence" in low and "arousal" in low:
    return "nrc_vad" if "dominance" in low else "plain"
  raise ValueError(
      f"path: {path!r} is not a known AV lexicon layout; expected a Warriner header "
      f"(Word, V.Mean.Sum, A.Mean.Sum), an NRC VAD header (Word/term, Valence, Arousal, "
      f"Dominance) or word,valence,arousal; got columns {header}")


def _column(header: list[str], names: tuple[str, ...], path: str) -> int:
  low = [h.lower() for h in header]
  for n in names:
    if n in low:
      return low.index(n)
  raise ValueError(f"path: {path!r} has no column {names[0]!r} (columns: {header})")


def load_lexicon(path: str, layout: str = "auto", source: str | None = None) -> AVLexicon:
  """Reads an AV lexicon CSV/TSV and normalises valence and arousal to [-1, 1].

  Args:
    path: the lexicon file.
    layout: "auto" (from the header), "warriner", "nrc_vad" or "plain".
    source: description stored on the lexicon (default: the file name and layout).

  Returns:
    An `AVLexicon`; duplicate words keep their first row.
  """
  if layout not in LAYOUTS:
    raise ValueError(f"layout: expected one of {LAYOUTS}, got {layout!r}")
  if not os.path.isfile(path):
    raise FileNotFoundError(f"path: no lexicon file at {path!r}")
  with open(path, "r", encoding="utf-8-sig") as f:
    text = f.read()
  return _parse(text, path, layout, source)


def _parse(text: str, path: str, layout: str, source: str | None) -> AVLexicon:
  header, rows = _read_rows(text, path)
  if layout == "auto":
    layout = _detect_layout(header, path)
  if layout == "warriner":
    iw = _column(header, ("word",), path)
    iv, ia = _column(header, ("v.mean.sum",), path), _column(header, ("a.mean.sum",), path)
  else:
    iw = _column(header, ("word", "term"), path)
    iv, ia = _column(header, ("valence",), path), _column(header, ("arousal",), path)
  words, va, seen = [], [], set()
  for n, row in enumerate(rows, start=2):
    try:
      word = row[iw].strip().lower()
      v, a = float(row[iv]), float(row[ia])
    except (IndexError, ValueError) as e:
      raise ValueError(f"path: {path!r} line {n}: expected a word and two numbers ({e})") from e
    if word and word not in seen:
      seen.add(word)
      words.append(word)
      va.append((v, a))
  va = np.asarray(va, np.float64).reshape(-1, 2)
  if layout == "warriner":
    va = _linear(va, 1.0, 9.0)
  elif layout == "nrc_vad":
    # v1 is on 0..1, v2 on -1..1: a negative value can only come from v2.
    va = va.astype(np.float32) if (va < 0).any() else _linear(va, 0.0, 1.0)
  else:
    va = va.astype(np.float32)
  if va.size and (np.abs(va) > 1.0 + 1e-6).any():
    raise ValueError(f"path: {path!r}: values outside [-1, 1] after normalising the "
                     f"{layout} layout; check the layout argument")
  return AVLexicon(tuple(words), np.clip(va, -1.0, 1.0).astype(np.float32),
                   source or f"{os.path.basename(path)} ({layout} layout)")


DEFAULT_SOURCE = ("Glasgow Norms (Scott et al. 2019, Behav. Res. Methods 51:1258-1270, "
                  "doi:10.3758/s13428-018-1099-3, CC BY 4.0): 238 impression words, "
                  "valence and arousal (mean - 5) / 4")


def default_lexicon() -> AVLexicon:
  """The bundled impression-word lexicon (`jaxvis/assets/music/impression_words.csv`)."""
  res = importlib.resources.files("jaxvis") / "assets" / "music" / "impression_words.csv"
  return _parse(res.read_text(encoding="utf-8"), "impression_words.csv", "plain",
                DEFAULT_SOURCE)
