"""Every family's bad-input cases, in one list."""

from __future__ import annotations

import cases_adjectives
import cases_faces
import cases_music
import cases_outfits
import cases_saliency
import cases_top

FAMILIES = (cases_saliency, cases_faces, cases_adjectives, cases_outfits, cases_music, cases_top)


def all_cases(corpus):
  out = []
  for module in FAMILIES:
    out.extend(module.cases(corpus))
  names = [c.name for c in out]
  assert len(names) == len(set(names)), "duplicate case names"
  return out
