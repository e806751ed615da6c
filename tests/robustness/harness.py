"""Runs one bad input through a real CLI (or reader) and classifies what happened.

Outcomes:
  clear_error  exit status 2 (1 for a batch whose other inputs were processed) and an
               `error: <where>: <problem>` line (ours, or argparse's
               `error: argument ...`), no traceback; for a reader, an
               InputError (a ValueError) whose message names the file or argument.
  sensible     a valid-but-unusual input (grayscale, no faces...) handled: exit 0,
               no NaN in what was printed or written.
  traceback    an exception escaped the CLI's error path (a bug).
  silent       exit 0 (or a returned value) for an input that is invalid, or NaN
               in the output.
  wrong_error  exit 2 but the message names neither the file nor the argument.

The CLI runs in-process through `jaxvis.cli.main` (the `jaxvis` entry point
itself), so the corpus stays fast; `test_entry_point_subprocess` runs a few
through the installed console script to show the two agree.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import os
import re
from typing import Callable, Sequence

from jaxvis import cli
from jaxvis.errors import InputError

OUTCOMES = ("clear_error", "sensible", "traceback", "silent", "wrong_error")
_NAN = re.compile(r"(?<![A-Za-z_])(nan|NaN|-?inf|Infinity)(?![A-Za-z_])")


@dataclasses.dataclass
class Case:
  """One input tried.

  Attributes:
    name: short id (shown by pytest).
    argv: the `jaxvis` arguments (CLI cases), or None for a reader case.
    call: for reader cases, a zero-argument callable.
    invalid: True when the input is wrong and must be refused.
    names: a substring the error must contain (the file or argument); None skips.
    outputs: files the command writes, checked for NaN when it succeeds.
    check: extra check of (stdout) for sensible cases; returns an error string or None.
  """
  name: str
  argv: Sequence[str] | None = None
  call: Callable[[], object] | None = None
  invalid: bool = True
  names: str | None = None
  outputs: Sequence[str] = ()
  check: Callable[[str], str | None] | None = None


@dataclasses.dataclass
class Result:
  outcome: str
  detail: str


def run_case(case: Case) -> Result:
  return _run_cli(case) if case.argv is not None else _run_reader(case)


def _run_cli(case: Case) -> Result:
  out, err = io.StringIO(), io.StringIO()
  try:
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
      code = cli.main(list(case.argv))
  except SystemExit as e:  # argparse
    code = e.code if isinstance(e.code, int) else 2
  except BaseException as e:  # noqa: BLE001 - anything escaping main is a traceback
    return Result("traceback", f"{type(e).__name__}: {e}")
  stdout, stderr = out.getvalue(), err.getvalue()
  if case.invalid:
    if code == 0:
      return Result("silent", f"exit 0 for invalid input; stdout: {stdout[-300:]}")
    if code not in (1, 2) or "error:" not in stderr:  # 1: a batch with some inputs refused
      return Result("wrong_error", f"exit {code}; stderr: {stderr[-300:]}")
    if case.names and case.names not in stderr:
      return Result("wrong_error", f"error does not name {case.names!r}: {stderr[-300:]}")
    return Result("clear_error", stderr.strip().splitlines()[-1])
  if code != 0:
    return Result("wrong_error" if code == 2 else "traceback", f"exit {code} for valid input: {stderr[-300:]}")
  texts = [stdout] + [open(p, errors="replace").read() for p in case.outputs if _is_text(p)]
  if any(_NAN.search(t) for t in texts):
    return Result("silent", "NaN or infinity in the output")
  problem = case.check(stdout) if case.check else None
  if problem:
    return Result("silent", problem)
  return Result("sensible", stdout.strip().splitlines()[-1] if stdout.strip() else "exit 0")


def _is_text(path: str) -> bool:
  return os.path.exists(path) and path.endswith((".json", ".jsonl", ".txt", ".csv"))


def _run_reader(case: Case) -> Result:
  try:
    value = case.call()
  except InputError as e:
    if not case.invalid:
      return Result("wrong_error", f"refused a valid input: {e}")
    if case.names and case.names not in str(e):
      return Result("wrong_error", f"error does not name {case.names!r}: {e}")
    return Result("clear_error", str(e))
  except BaseException as e:  # noqa: BLE001
    return Result("traceback", f"{type(e).__name__}: {e}")
  if case.invalid:
    return Result("silent", f"returned {str(value)[:200]} for invalid input")
  if _has_nan(value):
    return Result("silent", "NaN in the returned value")
  return Result("sensible", str(value)[:120])


def _has_nan(value, depth: int = 0) -> bool:
  import numpy as np
  if depth > 4:
    return False
  if isinstance(value, float):
    return not math.isfinite(value)
  if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.inexact):
    return not np.isfinite(value).all()
  if isinstance(value, dict):
    return any(_has_nan(v, depth + 1) for v in value.values())
  if isinstance(value, (list, tuple)):
    return any(_has_nan(v, depth + 1) for v in value[:1000])
  if dataclasses.is_dataclass(value) and not isinstance(value, type):
    return any(_has_nan(getattr(value, f.name), depth + 1) for f in dataclasses.fields(value))
  return False
