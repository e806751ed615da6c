"""`jaxvis bench`: runs the repository's `benchmarks/<name>.py` scripts."""

from __future__ import annotations

import os
import subprocess
import sys

from jaxvis.errors import InputError


def _bench_dir() -> str:
  here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  path = os.path.join(here, "benchmarks")
  if not os.path.isdir(path):
    raise InputError("benchmarks", f"folder not found at {path}: run from a source checkout")
  return path


def main(names: list[str], quick: bool = False) -> int:
  folder = _bench_dir()
  available = sorted(f[:-3] for f in os.listdir(folder)
                     if f.endswith(".py") and f not in ("common.py", "__init__.py"))
  chosen = names or available
  missing = [n for n in chosen if n not in available]
  if missing:
    raise InputError("names", f"unknown benchmark(s) {missing}; available: {available}")
  rc = 0
  for name in chosen:
    cmd = [sys.executable, os.path.join(folder, f"{name}.py")] + (["--quick"] if quick else [])
    rc |= subprocess.call(cmd)
  return rc
