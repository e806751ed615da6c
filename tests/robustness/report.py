"""Counts of the bad-input corpus by outcome (the README's table).

    python tests/robustness/report.py [--verbose]
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import warnings

os.environ.setdefault("JAX_PLATFORMS", "cpu")
sys.path.insert(0, os.path.dirname(__file__))

import harness  # noqa: E402
from corpus import Corpus  # noqa: E402
from registry import FAMILIES, all_cases  # noqa: E402


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--verbose", action="store_true", help="one line per case")
  args = parser.parse_args()
  cases = all_cases(Corpus(tempfile.mkdtemp(prefix="jaxvis-bad-inputs-")))
  counts = collections.Counter()
  by_kind = collections.Counter()
  for case in cases:
    with warnings.catch_warnings():
      warnings.simplefilter("ignore")
      result = harness.run_case(case)
    counts[result.outcome] += 1
    by_kind["CLI" if case.argv is not None else "reader"] += 1
    if args.verbose or result.outcome not in ("clear_error", "sensible"):
      print(f"{result.outcome:12s} {case.name}: {result.detail[:160]}")
  print(f"inputs tried: {len(cases)} ({by_kind['CLI']} through the CLIs, {by_kind['reader']} "
        f"through readers; families: {', '.join(m.__name__[6:] for m in FAMILIES)})")
  for outcome in harness.OUTCOMES:
    print(f"  {outcome}: {counts[outcome]}")
  return 0 if counts["clear_error"] + counts["sensible"] == len(cases) else 1


if __name__ == "__main__":
  sys.exit(main())
