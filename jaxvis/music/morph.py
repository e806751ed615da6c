"""English word forms a vocabulary lookup can fall back on: inflections and compounds.

A word missing from the word-vector table is usually a regular form of one that is
there (giraffes -> giraffe, smiling -> smile, happier -> happy) or two known words
written together (snowman -> snow + man, skateboarding -> skate + boarding ->
board). These rules propose such bases; `WordVectors` uses the first one it has
and reports the approximation, so no content word is dropped silently.

    base_forms("puppies")      # ['puppy', 'puppie', 'puppi']
    split_compound("snowman", known)   # ('snow', 'man') when both are known
"""

from __future__ import annotations

from typing import Callable

# Irregular plurals and forms common in captions.
IRREGULAR = {
    "men": "man", "women": "woman", "children": "child", "people": "person", "feet": "foot",
    "teeth": "tooth", "mice": "mouse", "geese": "goose", "oxen": "ox", "lice": "louse",
    "calves": "calf", "leaves": "leaf", "loaves": "loaf", "halves": "half", "knives": "knife",
    "wives": "wife", "lives": "life", "shelves": "shelf", "wolves": "wolf", "thieves": "thief",
    "ran": "run", "sat": "sit", "stood": "stand", "flew": "fly", "swam": "swim", "ate": "eat",
    "rode": "ride", "held": "hold", "lay": "lie", "lying": "lie", "worn": "wear", "wore": "wear",
    "better": "good", "best": "good", "worse": "bad", "worst": "bad",
}

_VOWELS = set("aeiou")
MIN_PART = 3


def base_forms(word: str) -> list[str]:
  """Candidate base forms of `word`, most likely first (may include non-words)."""
  w = word.lower()
  out: list[str] = []
  add = lambda b: out.append(b) if len(b) >= MIN_PART - 1 and b != w and b not in out else None
  if w in IRREGULAR:
    add(IRREGULAR[w])
  if w.endswith("'s") or w.endswith("s'"):
    add(w[:-2] if w.endswith("'s") else w[:-1])
  for suffix, repl in (("ies", "y"), ("ves", "f"), ("ves", "fe"), ("ses", "s"), ("xes", "x"),
                       ("ches", "ch"), ("shes", "sh"), ("zes", "z"), ("oes", "o")):
    if w.endswith(suffix):
      add(w[:-len(suffix)] + repl)
  if w.endswith("s") and not w.endswith("ss"):
    add(w[:-1])
  for suffix in ("ing", "ed", "er", "est"):
    if w.endswith(suffix) and len(w) > len(suffix) + 2:
      stem = w[:-len(suffix)]
      if suffix != "ing" and stem.endswith("i"):
        add(stem[:-1] + "y")                         # carried -> carry, happier -> happy
      add(stem)                                      # walked -> walk
      add(stem + "e")                                # smiling -> smile, riding -> ride
      if len(stem) >= 3 and stem[-1] == stem[-2] and stem[-1] not in _VOWELS:
        add(stem[:-1])                               # running -> run, bigger -> big
      if suffix == "ing" and stem.endswith("y"):
        add(stem[:-1] + "ie")                        # lying -> lie
  if w.endswith("ily") and len(w) > 5:
    add(w[:-3] + "y")                                # happily -> happy
  if w.endswith("ly") and len(w) > 4:
    add(w[:-2])                                      # quickly -> quick
  if w.endswith("ness") and len(w) > 6:
    add(w[:-4])
  return out


def best_base(word: str, known: Callable[[str], bool]) -> str | None:
  """The known base form to stand in for `word`: an irregular form's base, else the
  longest known candidate (grazing -> graze over graz, horses -> horse over hors)."""
  w = word.lower()
  if w in IRREGULAR and known(IRREGULAR[w]):
    return IRREGULAR[w]
  found = [b for b in base_forms(w) if known(b)]
  return max(found, key=len) if found else None


def split_compound(word: str, known: Callable[[str], bool]) -> tuple[str, str] | None:
  """Two known words that `word` is written from (each >= 3 letters), or None.

  Splits whose parts are both known as written win; then splits whose second part
  is a known inflection (skate + boarding); among those, the longest first part.
  """
  w = word.lower()
  plain, inflected = [], []
  for i in range(len(w) - MIN_PART, MIN_PART - 1, -1):
    a, b = w[:i], w[i:]
    if not known(a):
      continue
    if known(b):
      plain.append((a, b))
    elif best_base(b, known):
      inflected.append((a, b))
  best = plain or inflected
  return best[0] if best else None


def segment(word: str, known: Callable[[str], bool], min_piece: int = 2, max_pieces: int = 4
            ) -> list[str] | None:
  """Last resort: `word` as a sequence of known pieces, longest first piece first
  (the greedy longest-match WordPiece tokenisers use; ramen -> ram + en).

  Pieces have >= `min_piece` letters; at most `max_pieces` of them. The vector of such a
  word is only a guess from its spelling, and is reported as one.
  """
  w = word.lower()

  def rest(i: int, left: int) -> list[str] | None:
    if i == len(w):
      return []
    if left == 0:
      return None
    for j in range(len(w), i + min_piece - 1, -1):
      if known(w[i:j]):
        tail = rest(j, left - 1)
        if tail is not None:
          return [w[i:j]] + tail
    return None

  pieces = rest(0, max_pieces)
  return pieces if pieces and len(pieces) > 1 else None
