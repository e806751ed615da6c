"""The paper's evaluation measures (section 5) from user-study files.

File formats (CSV with a header; extra columns are ignored):

* user quadrants, `image_id,user_id,valence,arousal` (the point each user chose
  on the AV plane, in [-1, 1]) or `image_id,user_id,quadrant` (1-4);
* system quadrants, `image_id,method,quadrant` (one row per image and method;
  `method` may be left out when there is one method), or the JSON lines written by
  `jaxvis music batch` (`.jsonl`; image_id = file name without extension);
* ratings, `image_id,user_id,method,condition,rating[,song_id]`: one row per
  rated song; `condition` is `without` (no narrowing), `with` (narrowing) or
  `user` (songs from the user's own quadrant); `rating` is 1-5, or empty when the
  recommendation failed (no song in the chosen quadrant).

Measures:
* quadrant agreement (Table 1): per user-chosen quadrant, the share of
  (image, user) pairs whose system quadrant matches, and overall; plus each
  side's selection rates;
* ratings (Table 2), per method and condition: the recommendation score of an
  (image, user) pair is the mean of that user's ratings of the songs recommended
  for the image; reported are the share of pairs with score >= 4, the mean score,
  and the share of pairs whose recommendation failed.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict

import numpy as np

from jaxvis.errors import InputError, at_line
from jaxvis.music import tables

CONDITIONS = ("without", "with", "user")


def _records(path: str, required: tuple[str, ...], what: str) -> list[tables.Record]:
  header, records = tables.read_csv(path, what)
  tables.require_columns(header, required, path)
  if not records:
    raise InputError(path, f"holds a header but no rows (expected {what} records)")
  return records


def _quadrant(v: float, a: float) -> int:
  return (1 if v >= 0 else 2) if a >= 0 else (3 if v < 0 else 4)


def _quadrant_cell(rec: tables.Record, path: str) -> int:
  q = tables.number(rec, "quadrant", path, 1, 4)
  if q != int(q):
    raise InputError(at_line(path, rec[0]), f"column 'quadrant': expected 1, 2, 3 or 4, got {q:g}")
  return int(q)


def read_user_quadrants(path: str) -> dict[tuple[str, str], int]:
  """(image_id, user_id) -> quadrant chosen by the user (one row per pair)."""
  header, _ = tables.read_csv(path, "user quadrants")
  by_quadrant = "quadrant" in header
  cols = ("image_id", "user_id") + (("quadrant",) if by_quadrant else ("valence", "arousal"))
  out = {}
  seen = tables.UniqueKeys(path, "(image_id, user_id)")
  for rec in _records(path, cols, "user quadrants"):
    key = (rec[1]["image_id"], rec[1]["user_id"])
    seen.add(str(key), rec[0])
    if by_quadrant:
      out[key] = _quadrant_cell(rec, path)
    else:
      out[key] = _quadrant(tables.number(rec, "valence", path, -1, 1),
                           tables.number(rec, "arousal", path, -1, 1))
  return out


def read_system_quadrants(path: str) -> dict[str, dict[str, int]]:
  """method -> image_id -> quadrant chosen by the system (one row per image and method).

  A `.jsonl` file is read as `jaxvis music batch` output: image_id = the image's file
  name without extension, method from its "method" field; images without a quadrant
  (nothing extracted, or an error) are left out.
  """
  if path.endswith(".jsonl"):
    return _batch_quadrants(path)
  out: dict[str, dict[str, int]] = defaultdict(dict)
  seen = tables.UniqueKeys(path, "(image_id, method)")
  for rec in _records(path, ("image_id", "quadrant"), "system quadrants"):
    method = rec[1].get("method") or "system"
    seen.add(str((rec[1]["image_id"], method)), rec[0])
    out[method][rec[1]["image_id"]] = _quadrant_cell(rec, path)
  return dict(out)


def _batch_quadrants(path: str) -> dict[str, dict[str, int]]:
  out: dict[str, dict[str, int]] = defaultdict(dict)
  seen = tables.UniqueKeys(path, "(image, method)")
  for n, line in enumerate(tables.open_text(path, "batch results").splitlines(), start=1):
    if not line.strip():
      continue
    try:
      rec = json.loads(line)
    except json.JSONDecodeError as e:
      raise InputError(at_line(path, n), f"not a JSON object ({e.msg})") from None
    if not isinstance(rec, dict) or "image" not in rec:
      raise InputError(at_line(path, n), 'expected a `jaxvis music batch` record with "image"')
    image_id = os.path.splitext(os.path.basename(str(rec["image"])))[0]
    method = rec.get("method") or "system"
    seen.add(str((image_id, method)), n)
    if rec.get("quadrant") in (1, 2, 3, 4):
      out[method][image_id] = int(rec["quadrant"])
  if not out:
    raise InputError(path, "no record has a quadrant")
  return dict(out)


def quadrant_agreement(user: dict[tuple[str, str], int], system: dict[str, int]) -> dict:
  """Table 1 for one method: selection rates and agreement per quadrant and overall (%)."""
  pairs = [(q, system[img]) for (img, _), q in user.items() if img in system]
  if not pairs:
    raise InputError("system_quadrants", "no image of the user study has a system quadrant")
  users = np.array([p[0] for p in pairs])
  sys_q = np.array([p[1] for p in pairs])
  images = sorted({img for (img, _) in user if img in system})
  sys_per_image = np.array([system[i] for i in images])
  out = {"pairs": len(pairs), "images": len(images), "per_quadrant": {}}
  for q in (1, 2, 3, 4):
    sel = users == q
    out["per_quadrant"][q] = {
        "user_rate": 100.0 * sel.mean(),
        "system_rate": 100.0 * (sys_per_image == q).mean(),
        "agreement": 100.0 * (sys_q[sel] == q).mean() if sel.any() else None}
  out["agreement"] = 100.0 * (users == sys_q).mean()
  return out


def read_ratings(path: str) -> list[dict[str, str]]:
  rows = []
  for rec in _records(path, ("image_id", "user_id", "condition", "rating"), "ratings"):
    n, r = rec
    if r["condition"] not in CONDITIONS:
      raise InputError(at_line(path, n), f"column 'condition': expected one of {CONDITIONS}, "
                                         f"got {r['condition']!r}")
    if r["rating"]:
      tables.number(rec, "rating", path, 1, 5, "empty = failed recommendation")
    rows.append(r)
  return rows


def rating_measures(rows: list[dict[str, str]]) -> dict[str, dict[str, dict]]:
  """Table 2: per method and condition, share of scores >= 4, mean score, failure share."""
  scores: dict = defaultdict(lambda: defaultdict(list))
  for r in rows:
    key = (r.get("method") or "system", r["condition"])
    scores[key][(r["image_id"], r["user_id"])].append(float(r["rating"]) if r["rating"]
                                                      else None)
  out: dict[str, dict[str, dict]] = defaultdict(dict)
  for (method, cond), by_pair in scores.items():
    failed = [p for p, v in by_pair.items() if all(x is None for x in v)]
    per_pair = np.array([np.mean([x for x in v if x is not None])
                         for v in by_pair.values() if any(x is not None for x in v)])
    out[method][cond] = {
        "pairs": len(by_pair),
        "share_score_ge_4": 100.0 * float((per_pair >= 4).mean()) if per_pair.size else None,
        "mean_score": float(per_pair.mean()) if per_pair.size else None,
        "failure_share": 100.0 * len(failed) / len(by_pair)}
  return dict(out)


def evaluate_files(user_quadrants: str | None = None, system_quadrants: str | None = None,
                   ratings: str | None = None) -> dict:
  """All measures the given files allow."""
  out: dict = {}
  if user_quadrants and system_quadrants:
    user = read_user_quadrants(user_quadrants)
    out["quadrant_agreement"] = {m: quadrant_agreement(user, s)
                                 for m, s in read_system_quadrants(system_quadrants).items()}
  elif user_quadrants or system_quadrants:
    raise InputError("user_quadrants, system_quadrants", "give both to measure agreement")
  if ratings:
    out["ratings"] = rating_measures(read_ratings(ratings))
  if not out:
    raise InputError("evaluate", "give user and system quadrant files and/or a ratings file")
  return out
