"""The bad-input corpus against every CLI subcommand and reader.

Fails on any traceback, any exit 0 (or returned value) for invalid input, any
NaN in an output, and any error that names neither the file nor the argument.
`python tests/robustness/report.py` prints the counts the README quotes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import harness  # noqa: E402
from corpus import Corpus  # noqa: E402
from registry import all_cases  # noqa: E402

_CORPUS = Corpus(tempfile.mkdtemp(prefix="jaxvis-bad-inputs-"))
CASES = all_cases(_CORPUS)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case):
  result = harness.run_case(case)
  expected = "clear_error" if case.invalid else "sensible"
  assert result.outcome == expected, f"{case.name}: {result.outcome}: {result.detail}"


def test_entry_point_subprocess():
  """The installed `jaxvis` script reports the same way as in-process `main`."""
  exe = os.path.join(os.path.dirname(sys.executable), "jaxvis")
  proc = subprocess.run([exe, "saliency", "explain", _CORPUS.text_png, "--class", "1", "--checkpoint",
                         os.path.join(os.path.dirname(__file__), "..", "..", "jaxvis", "assets", "saliency"),
                         "--out", os.path.join(_CORPUS.root, "o.png")],
                        capture_output=True, text=True, timeout=300)
  assert proc.returncode == 2, proc.stderr
  assert proc.stderr.strip().splitlines()[-1].startswith(f"error: {_CORPUS.text_png}: is not an image")
  assert "Traceback" not in proc.stderr
