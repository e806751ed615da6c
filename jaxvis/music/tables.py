"""Strict reading of the music family's CSV tables: every bad record names its file and line.

Songs, DEAM, lexicon, reference and user-study files all pass through here, so a
NaN, an out-of-range value, a duplicate key or an empty table is an `InputError`
with `where = path:line` instead of a value that silently wins an argmin.

    header, records = read_csv(path, "songs")      # records: [(line, {column: value})]
    v = number(records[0], "valence", path, lo=-1, hi=1)
"""

from __future__ import annotations

import csv
import io
import math
import os

from jaxvis.errors import InputError, at_line

Record = tuple[int, dict[str, str]]


def open_text(path: str, what: str, fallback: str | None = None) -> str:
  """The file's text (UTF-8, BOM dropped); InputError naming `what` if it is not readable.

  `fallback` (e.g. "latin-1") decodes files that are not UTF-8 instead of refusing them.
  """
  path = os.fspath(path)
  if os.path.isdir(path):
    raise InputError(path, f"is a folder, expected a {what} file")
  try:
    with open(path, "r", encoding="utf-8-sig", newline="") as f:
      return f.read()
  except FileNotFoundError:
    raise InputError(path, f"does not exist (expected a {what} file)") from None
  except UnicodeDecodeError as e:
    if fallback:
      with open(path, "r", encoding=fallback, newline="") as f:
        return f.read()
    raise InputError(path, f"is not UTF-8 text ({e.reason} at byte {e.start}); expected a "
                           f"{what} file") from None
  except OSError as e:
    raise InputError(path, f"cannot be read ({e.strerror})") from None


def parse_rows(text: str, path: str, delimiter: str | None = None, comments: bool = False
               ) -> tuple[list[str], list[tuple[int, list[str]]]]:
  """Header and data rows of CSV/TSV text, each row with its 1-based physical line.

  Blank lines (and `#` lines when `comments`) are skipped but still counted, so the
  line numbers are the ones an editor shows. The delimiter is a tab when the
  header holds one, else a comma, unless given.
  """
  lines = text.splitlines()
  kept = [(n, ln) for n, ln in enumerate(lines, start=1)
          if ln.strip() and not (comments and ln.lstrip().startswith("#"))]
  if not kept:
    raise InputError(path, "holds no rows (expected a header line and data rows)")
  if delimiter is None:
    delimiter = "\t" if "\t" in kept[0][1] else ","
  rows = []
  for n, ln in kept:
    # One physical line per record: none of these tables quotes newlines.
    rows.append((n, next(csv.reader(io.StringIO(ln), delimiter=delimiter), [])))
  header = [h.strip() for h in rows[0][1]]
  return header, rows[1:]


def read_csv(path: str, what: str, comments: bool = False) -> tuple[list[str], list[Record]]:
  """Lower-cased stripped header and `(line, {column: stripped value})` records."""
  header, rows = parse_rows(open_text(path, what), path, comments=comments)
  low = [h.lower() for h in header]
  records = [(n, dict(zip(low, (c.strip() for c in row)))) for n, row in rows]
  return low, records


def require_columns(header: list[str], needed, path: str, hint: str = "") -> None:
  missing = [c for c in needed if c not in header]
  if missing:
    raise InputError(path, f"is missing the column(s) {missing} (columns: {header})"
                           + (f"; {hint}" if hint else ""))


def number(record: Record, column: str, path: str, lo: float | None = None,
           hi: float | None = None, scale: str = "") -> float:
  """A finite float from `record[column]`, within [lo, hi] when given."""
  line, row = record
  raw = row.get(column)
  return check_number(raw, column, at_line(path, line), lo, hi, scale)


def check_number(raw, column: str, where: str, lo: float | None = None,
                 hi: float | None = None, scale: str = "") -> float:
  """`raw` (text or number) as a finite float in [lo, hi]; InputError at `where` otherwise."""
  try:
    x = float(raw)
  except (TypeError, ValueError):
    raise InputError(where, f"column {column!r}: expected a number, got {raw!r}") from None
  if not math.isfinite(x):
    raise InputError(where, f"column {column!r}: expected a finite number, got {raw!r}")
  if (lo is not None and x < lo) or (hi is not None and x > hi):
    raise InputError(where, f"column {column!r}: {x:g} is outside [{lo:g}, {hi:g}]"
                            + (f" ({scale})" if scale else ""))
  return x


class UniqueKeys:
  """Remembers the line of every key; a second occurrence is an InputError naming both lines."""

  def __init__(self, path: str, what: str):
    self.path, self.what, self.first = path, what, {}

  def add(self, key: str, line: int, path: str | None = None) -> None:
    path = path or self.path
    if key in self.first:
      p0, l0 = self.first[key]
      where0 = f"line {l0}" if p0 == path else at_line(p0, l0)
      raise InputError(at_line(path, line), f"duplicate {self.what} {key!r} (first at {where0})")
    self.first[key] = (path, line)
