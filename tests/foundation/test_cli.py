"""The jaxvis command: groups, info --json, and the demo writing its report."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from jaxvis import cli


def test_help_lists_every_group(capsys):
  assert cli.main(["--help"]) == 0
  out = capsys.readouterr().out
  for name in ("saliency", "faces", "outfits", "adjectives", "music", "demo", "bench", "info"):
    assert name in out


def test_info_json_is_one_line_of_json():
  proc = subprocess.run([sys.executable, "-m", "jaxvis.cli", "info", "--json"], capture_output=True,
                        text=True, timeout=120, env=dict(os.environ, JAX_PLATFORMS="cpu"))
  assert proc.returncode == 0, proc.stderr
  info = json.loads(proc.stdout.strip())
  assert info["backend"] == "cpu" and info["device_count"] >= 1
  assert info["versions"]["jax"] and info["versions"]["flax"] and info["versions"]["jaxvis"]
  kernels = info["native_kernels"]
  assert kernels["threads"] >= 1 and (kernels["available"] or kernels["why"])


def test_foundation_demo_section_writes_report(tmp_path):
  proc = subprocess.run([sys.executable, "-m", "jaxvis.cli", "demo", "--only", "foundation",
                         "--quick", "--out", str(tmp_path)], capture_output=True, text=True,
                        timeout=600, env=dict(os.environ, JAX_PLATFORMS="cpu"))
  assert proc.returncode == 0, proc.stderr[-3000:]
  page = (tmp_path / "index.html").read_text()
  assert "ResNet-50" in page and "astronaut" in page
  assert "max |logit difference| = 0" in page or "e-0" in page  # the parity line is shown
  assert any(f.endswith(".png") for f in os.listdir(tmp_path))


def test_demo_rejects_unknown_sections(tmp_path):
  from jaxvis import demo
  with pytest.raises(ValueError, match="--only: unknown section"):
    demo.main(out_dir=str(tmp_path), sections=["nope"])
