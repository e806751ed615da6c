"""argparse `type=` validators, so every option is checked before any compute.

A value that fails is reported by argparse as
`jaxvis ...: error: argument --steps: expected an integer >= 1, got '0'` with
exit status 2, before a model is built or a file is read. Paths are checked for
what the command will do with them: read (exists), write (its folder exists or
can be made, and is writable).
"""

from __future__ import annotations

import argparse
import math
import os


def _number(text: str, kind):
  try:
    value = kind(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                     f"got {text!r}") from None
  if kind is float and not math.isfinite(value):
    raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
  return value


def int_at_least(low: int):
  """An integer >= low (e.g. `int_at_least(1)` for steps, batch sizes, counts)."""
  def parse(text: str) -> int:
    value = _number(text, int)
    if value < low:
      raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text!r}")
    return value
  parse.__name__ = f"integer >= {low}"
  return parse


positive_int = int_at_least(1)
nonnegative_int = int_at_least(0)


def float_in(low: float | None = None, high: float | None = None, *, low_open: bool = False,
             high_open: bool = False):
  """A finite float in [low, high] (either end open or unbounded)."""
  lo_sym, hi_sym = "(" if low_open else "[", ")" if high_open else "]"
  span = f"{lo_sym}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi_sym}"

  def parse(text: str) -> float:
    value = _number(text, float)
    if low is not None and (value < low or (low_open and value == low)) or \
       high is not None and (value > high or (high_open and value == high)):
      raise argparse.ArgumentTypeError(f"expected a number in {span}, got {text!r}")
    return value
  parse.__name__ = f"number in {span}"
  return parse


finite_float = float_in()
positive_float = float_in(0.0, low_open=True)
probability = float_in(0.0, 1.0)
dropout_rate = float_in(0.0, 1.0, high_open=True)


def existing_file(text: str) -> str:
  if not os.path.exists(text):
    raise argparse.ArgumentTypeError(f"{text} does not exist")
  if os.path.isdir(text):
    raise argparse.ArgumentTypeError(f"{text} is a folder, expected a file")
  if not os.access(text, os.R_OK):
    raise argparse.ArgumentTypeError(f"{text} is not readable")
  return text


def existing_path(text: str) -> str:
  """A file or a folder that exists (e.g. a dataset given either way)."""
  if not os.path.exists(text):
    raise argparse.ArgumentTypeError(f"{text} does not exist")
  return text


def existing_dir(text: str) -> str:
  if not os.path.isdir(text):
    raise argparse.ArgumentTypeError(f"{text} is not an existing folder")
  return text


def _nearest_existing(path: str) -> str:
  path = os.path.abspath(path)
  while not os.path.exists(path):
    parent = os.path.dirname(path)
    if parent == path:
      break
    path = parent
  return path


def output_file(text: str) -> str:
  """A file the command will write: not a folder, and its folder exists or can be created."""
  if text == "-":
    return text
  if os.path.isdir(text):
    raise argparse.ArgumentTypeError(f"{text} is a folder, expected a file path")
  if os.path.exists(text) and not os.access(text, os.W_OK):
    raise argparse.ArgumentTypeError(f"{text} is not writable")
  base = _nearest_existing(os.path.dirname(os.path.abspath(text)))
  if not os.path.isdir(base) or not os.access(base, os.W_OK | os.X_OK):
    raise argparse.ArgumentTypeError(f"cannot write {text}: {base} is not a writable folder")
  return text


def output_dir(text: str) -> str:
  """A folder the command will write into: exists and is writable, or can be created."""
  if os.path.exists(text) and not os.path.isdir(text):
    raise argparse.ArgumentTypeError(f"{text} exists and is not a folder")
  base = _nearest_existing(text)
  if not os.path.isdir(base) or not os.access(base, os.W_OK | os.X_OK):
    raise argparse.ArgumentTypeError(f"cannot write into {text}: {base} is not a writable folder")
  return text
