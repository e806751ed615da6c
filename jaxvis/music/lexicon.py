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

import dataclasses
import importlib.resources
import os

import numpy as np

from jaxvis.errors import InputError, at_line
from jaxvis.music import tables

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


def _detect_layout(header: list[str], path: str) -> str:
  low = [h.lower() for h in header]
  if "v.mean.sum" in low and "a.mean.sum" in low:
    return "warriner"
  if ("word" in low or "term" in low) and "valence" in low and "arousal" in low:
    return "nrc_vad" if "dominance" in low else "plain"
  raise InputError(
      path, "is not a known AV lexicon layout; expected a Warriner header "
      f"(Word, V.Mean.Sum, A.Mean.Sum), an NRC VAD header (Word/term, Valence, Arousal, "
      f"Dominance) or word,valence,arousal; got columns {header}")


def _column(header: list[str], names: tuple[str, ...], path: str) -> int:
  low = [h.lower() for h in header]
  for n in names:
    if n in low:
      return low.index(n)
  raise InputError(path, f"has no column {names[0]!r} (columns: {header})")


def load_lexicon(path: str, layout: str = "auto", source: str | None = None) -> AVLexicon:
  """Reads an AV lexicon CSV/TSV and normalises valence and arousal to [-1, 1].

  Args:
    path: the lexicon file.
    layout: "auto" (from the header), "warriner", "nrc_vad" or "plain".
    source: description stored on the lexicon (default: the file name and layout).

  Returns:
    An `AVLexicon`.

  Raises:
    InputError: naming the file and line, for a missing or empty file, a value that
      is not a finite number on the layout's scale, or a word listed twice (case
      folded); an empty lexicon is never replaced by the default.
  """
  if layout not in LAYOUTS:
    raise InputError("layout", f"expected one of {LAYOUTS}, got {layout!r}")
  return _parse(tables.open_text(path, "lexicon"), os.fspath(path), layout, source)


# Each layout's published scale, checked before it is mapped onto [-1, 1].
_SCALES = {"warriner": (1.0, 9.0), "nrc_vad": (-1.0, 1.0), "plain": (-1.0, 1.0)}


def _parse(text: str, path: str, layout: str, source: str | None) -> AVLexicon:
  header, rows = tables.parse_rows(text, path, comments=True)
  if layout == "auto":
    layout = _detect_layout(header, path)
  if layout == "warriner":
    iw = _column(header, ("word",), path)
    iv, ia = _column(header, ("v.mean.sum",), path), _column(header, ("a.mean.sum",), path)
  else:
    iw = _column(header, ("word", "term"), path)
    iv, ia = _column(header, ("valence",), path), _column(header, ("arousal",), path)
  lo, hi = _SCALES[layout]
  names = (header[iv], header[ia])
  words, va = [], []
  seen = tables.UniqueKeys(path, "word")
  for n, row in rows:
    where = at_line(path, n)
    if len(row) <= max(iw, iv, ia):
      raise InputError(where, f"expected {max(iw, iv, ia) + 1} columns, got {len(row)}")
    word = row[iw].strip().lower()
    if not word:
      raise InputError(where, "empty word")
    seen.add(word, n)
    words.append(word)
    va.append([tables.check_number(row[i], c, where, lo, hi, f"the {layout} layout's scale")
               for i, c in zip((iv, ia), names)])
  if not words:
    raise InputError(path, "holds a header but no words; an AV lexicon needs at least one row")
  va = np.asarray(va, np.float64).reshape(-1, 2)
  if layout == "warriner":
    va = _linear(va, 1.0, 9.0)
  elif layout == "nrc_vad" and not (va < 0).any():
    # v1 is on 0..1, v2 on -1..1: only v2 has negative values.
    va = _linear(va, 0.0, 1.0)
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


def balanced(lexicon: AVLexicon, per_quadrant: int | None = None) -> AVLexicon:
  """A quadrant-balanced subset: the same number of words in each AV quadrant.

  Rule: in every quadrant keep the `per_quadrant` words farthest from the origin
  (the most clearly placed ones); default: the smallest quadrant's count, so that
  quadrant keeps all its words. With the bundled lexicon (79 / 52 / 88 / 19 words
  in Q1-Q4) that is 19 per quadrant, 76 in all.
  """
  v, a = lexicon.va[:, 0], lexicon.va[:, 1]
  quadrant = np.where(a >= 0, np.where(v >= 0, 1, 2), np.where(v < 0, 3, 4))
  sizes = [int((quadrant == q).sum()) for q in (1, 2, 3, 4)]
  n = min(sizes) if per_quadrant is None else int(per_quadrant)
  if n < 1 or n > min(sizes):
    raise InputError("per_quadrant", f"expected 1..{min(sizes)} (words per quadrant: {sizes}), "
                                     f"got {per_quadrant}")
  radius = np.hypot(v, a)
  keep = np.zeros(len(lexicon), bool)
  for q in (1, 2, 3, 4):
    idx = np.flatnonzero(quadrant == q)
    keep[idx[np.argsort(-radius[idx], kind="stable")[:n]]] = True
  return AVLexicon(tuple(w for w, k in zip(lexicon.words, keep) if k), lexicon.va[keep],
                   f"{lexicon.source}; balanced: the {n} words farthest from the origin in "
                   "each quadrant")
