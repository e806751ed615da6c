"""Readers for the VSO / SentiBank and MVSO datasets, image loading, and P/Q construction.

Visual Sentiment Ontology (Borth et al. 2013) Flickr images, as published:
    <root>/bi_concepts1553/<adjective>_<noun>/<id>.jpg
MVSO (Jou et al. 2015) image lists, one CSV per language, one row per image:
    <ANP>,<image URL>          (optionally a header naming the columns, e.g.
                                "ANP,image_url"; more columns are ignored)
where an ANP is written "adjective_noun". An MVSO image is found locally under
`image_dir/<basename of its URL>`.

The paper's experiment (Sec. 4): for a query ANP, its images are the truly
relevant ones and images of other ANPs with the same noun the truly irrelevant
ones; P and Q of m images each are mixed at the purities of Table 1.
"""

from __future__ import annotations

import csv
import os
from typing import NamedTuple, Sequence

import numpy as np

from jaxvis.errors import InputError, at_line

# Table 1: query -> (Ratio A: relevant share of P, Ratio B: relevant share of Q).
TABLE1: dict[str, tuple[float, float]] = {
    "happy dog": (0.785, 0.18),
    "tiny flower": (0.688, 0.3),
    "clear sky": (0.565, 0.2),
    "ancient city": (0.865, 0.2),
    "falling snow": (0.735, 0.25),
    "warm water": (0.425, 0.075),
    "happy kids": (0.83, 0.3),
    "dry flower": (0.81, 0.055),
    "fluffy clouds": (0.899, 0.675),
    "fresh flowers": (0.78, 0.6),
}

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")


def split_anp(anp: str) -> tuple[str, str]:
  """"happy_dog" or "happy dog" -> ("happy", "dog"); the noun may contain further words."""
  parts = anp.strip().replace(" ", "_").split("_", 1)
  if len(parts) != 2 or not parts[0] or not parts[1]:
    raise InputError("anp", f"expected 'adjective_noun', got {anp!r}")
  return parts[0].lower(), parts[1].lower()


def _image_files(folder: str) -> list[str]:
  return sorted(os.path.join(folder, f) for f in os.listdir(folder)
                if f.lower().endswith(IMAGE_EXTENSIONS))


def read_vso(root: str) -> dict[str, list[str]]:
  """ANP ("adjective_noun") -> sorted image paths, from a VSO/SentiBank folder.

  Args:
    root: the folder holding `bi_concepts1553/`, or `bi_concepts1553` itself.
  """
  folder = os.path.join(root, "bi_concepts1553")
  if not os.path.isdir(folder):
    folder = root
  if not os.path.isdir(folder):
    raise InputError("root", f"no folder {root}")
  anps = {}
  for name in sorted(os.listdir(folder)):
    path = os.path.join(folder, name)
    if os.path.isdir(path) and "_" in name:
      files = _image_files(path)
      if files:
        anps[name] = files
  if not anps:
    raise InputError("root", f"no <adjective>_<noun>/ image folders under {folder} "
                     "(expected the VSO layout bi_concepts1553/<adjective_noun>/*.jpg)")
  return anps


_ANP_COLUMNS = ("anp", "concept", "adjective_noun_pair")
_URL_COLUMNS = ("image_url", "url", "image", "path", "photo_url", "flickr_url")


def read_mvso_csv(path: str, image_dir: str | None = None,
                  require_files: bool = False) -> dict[str, list[str]]:
  """ANP -> image URLs (or local paths when `image_dir` is given) from an MVSO CSV.

  Args:
    path: the CSV (`ANP,image_url` rows, header optional).
    image_dir: where the downloaded images are; each URL maps to
      `image_dir/<basename of the URL>`.
    require_files: with `image_dir`, drop rows whose image file is missing.
  """
  if not os.path.isfile(path):
    raise InputError("path", f"no MVSO CSV at {path}")
  try:
    with open(path, newline="", encoding="utf-8") as f:
      rows = [(n, r) for n, r in enumerate(csv.reader(f), start=1) if r and any(c.strip() for c in r)]
  except (UnicodeDecodeError, csv.Error) as e:
    raise InputError(path, f"is not a UTF-8 CSV ({e})") from None
  if not rows:
    raise InputError(path, "is empty (expected ANP,image_url rows)")
  head = [c.strip().lower() for c in rows[0][1]]
  anp_col, url_col = 0, 1
  if any(h in _ANP_COLUMNS for h in head) or any(h in _URL_COLUMNS for h in head):
    try:
      anp_col = next(i for i, h in enumerate(head) if h in _ANP_COLUMNS)
      url_col = next(i for i, h in enumerate(head) if h in _URL_COLUMNS)
    except StopIteration:
      raise InputError(at_line(path, rows[0][0]), f"header {rows[0][1]} needs an ANP column (one of {_ANP_COLUMNS}) "
                       f"and an image column (one of {_URL_COLUMNS})") from None
    rows = rows[1:]
  out: dict[str, list[str]] = {}
  for line, row in rows:
    if len(row) <= max(anp_col, url_col):
      raise InputError(at_line(path, line), f"expected at least {max(anp_col, url_col) + 1} "
                                            f"columns, got {row}")
    anp, url = row[anp_col].strip(), row[url_col].strip()
    if not url:
      raise InputError(at_line(path, line), f"empty image column in {row}")
    try:
      adjective, noun = split_anp(anp)
    except InputError as e:
      raise InputError(at_line(path, line), e.problem) from None
    item = url
    if image_dir is not None:
      item = os.path.join(image_dir, os.path.basename(url.split("?")[0]))
      if require_files and not os.path.isfile(item):
        continue
    out.setdefault(f"{adjective}_{noun}", []).append(item)
  return out


def relevant_and_irrelevant(anps: dict[str, list[str]], query: str,
                            exclude_adjectives: Sequence[str] = ()
                            ) -> tuple[list[str], list[str]]:
  """The query ANP's images, and those of other ANPs with the same noun.

  Args:
    anps: ANP -> images (from `read_vso` or `read_mvso_csv`).
    query: "adjective noun" or "adjective_noun".
    exclude_adjectives: adjectives too close to the query's to count as
      irrelevant (the paper drops e.g. "excited kids" for "happy kids").
  """
  adjective, noun = split_anp(query)
  key = f"{adjective}_{noun}"
  if key not in anps:
    raise InputError("query", f"no ANP {key!r} in the dataset")
  skip = {adjective} | {a.lower() for a in exclude_adjectives}
  irrelevant = [p for anp, files in sorted(anps.items())
                for p in files if split_anp(anp)[1] == noun and split_anp(anp)[0] not in skip]
  if not irrelevant:
    raise InputError("query", f"no other ANP with the noun {noun!r} gives irrelevant images")
  return list(anps[key]), irrelevant


class QuerySets(NamedTuple):
  """P (pseudo-relevant) and Q (pseudo-irrelevant) items with their truth."""
  P: list
  Q: list
  relevant_p: np.ndarray
  relevant_q: np.ndarray


def build_query_sets(relevant: Sequence, irrelevant: Sequence, ratio_a: float, ratio_b: float,
                     m: int, seed: int = 0) -> QuerySets:
  """Draws disjoint P and Q of `m` items each with the given relevant shares.

  P holds round(ratio_a * m) truly relevant items, Q round(ratio_b * m); the
  rest are truly irrelevant. Both are shuffled.
  """
  for name, r in (("ratio_a", ratio_a), ("ratio_b", ratio_b)):
    if not 0.0 <= r <= 1.0:
      raise ValueError(f"{name}: expected a share in [0, 1], got {r}")
  if m < 1:
    raise InputError("m", f"expected >= 1, got {m}")
  ra, rb = int(round(ratio_a * m)), int(round(ratio_b * m))
  need_rel, need_irr = ra + rb, 2 * m - ra - rb
  if len(relevant) < need_rel or len(irrelevant) < need_irr:
    raise InputError("relevant, irrelevant", f"m={m} at ratios ({ratio_a}, {ratio_b}) needs "
                     f"{need_rel} relevant and {need_irr} irrelevant items, got "
                     f"{len(relevant)} and {len(irrelevant)}")
  rng = np.random.default_rng(seed)
  rel = [relevant[i] for i in rng.permutation(len(relevant))[:need_rel]]
  irr = [irrelevant[i] for i in rng.permutation(len(irrelevant))[:need_irr]]
  p = [(x, True) for x in rel[:ra]] + [(x, False) for x in irr[:m - ra]]
  q = [(x, True) for x in rel[ra:]] + [(x, False) for x in irr[m - ra:]]
  p = [p[i] for i in rng.permutation(m)]
  q = [q[i] for i in rng.permutation(m)]
  return QuerySets([x for x, _ in p], [x for x, _ in q], np.array([t for _, t in p]),
                   np.array([t for _, t in q]))


def table1_query_sets(anps: dict[str, list[str]], query: str, m: int, seed: int = 0,
                      exclude_adjectives: Sequence[str] = ()) -> QuerySets:
  """P and Q for one of Table 1's queries at its published purities."""
  key = " ".join(split_anp(query))
  if key not in TABLE1:
    raise InputError("query", f"expected one of Table 1's queries {sorted(TABLE1)}, got {query!r}")
  rel, irr = relevant_and_irrelevant(anps, query, exclude_adjectives)
  return build_query_sets(rel, irr, *TABLE1[key], m, seed=seed)


def load_images(paths: Sequence[str], size: int = 100) -> np.ndarray:
  """Reads images, centre-crops them square and resizes to size x size: float32 [0, 1] RGB."""
  from jaxvis.data.images import resized_rgb
  out = np.empty((len(paths), size, size, 3), np.float32)
  for i, path in enumerate(paths):  # InputError names the file that cannot be read
    out[i] = resized_rgb(path, size, square_crop=True) / np.float32(255.0)
  return out


def list_images(folder: str) -> list[str]:
  """Sorted image files directly inside `folder`."""
  if not os.path.isdir(folder):
    raise InputError(folder, "is not a folder")
  files = _image_files(folder)
  if not files:
    raise InputError(folder, f"no images ({', '.join(IMAGE_EXTENSIONS)}) in this folder")
  return files
