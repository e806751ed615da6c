"""The prepared accelerator run: its report logic and scripts (the dry run itself is a CI step)."""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import accelerator  # noqa: E402


def test_floors_are_judged_from_the_best_matching_record():
  records = [
      {"bench": "saliency", "model": "masking", "dtype": "bfloat16", "batch": 256, "items_per_s": 9000.0},
      {"bench": "saliency", "model": "masking", "dtype": "bfloat16", "batch": 256, "items_per_s": 12000.0},
      {"bench": "saliency", "model": "masking", "dtype": "float32", "batch": 256, "items_per_s": 50000.0},
      {"bench": "faces", "path": "user", "height": 1080, "width": 1920, "batch": 64, "items_per_s": 320.0},
      {"bench": "faces", "path": "user", "height": 1080, "width": 1920, "batch": 256, "items_per_s": None,
       "error": "out of device memory"},
      # a fixed-cap program's record (session 7's form) does not count for the user-path floor
      {"bench": "faces", "height": 1080, "width": 1920, "batch": 256, "items_per_s": 977.0},
  ]
  rows = accelerator.floor_rows(records)
  assert any(r.startswith("| saliency masking bf16 b256 | 10,000 | 12,000.0 | met |") for r in rows)
  assert any(r.startswith("| faces 1920x1080 (user path) | 500 | 320.0 | NOT met |") for r in rows)
  assert any(r.startswith("| outfits decomposed |") and "not measured" in r for r in rows)
  table = accelerator.markdown(records, "gpu:NVIDIA H100")
  assert "# Accelerator run on gpu:NVIDIA H100" in table and "out of device memory" in table


def test_unknown_section_is_refused():
  proc = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "accelerator.py"), "--only",
                         "saliency,teleport"], capture_output=True, text=True, timeout=120,
                        env=dict(os.environ, JAX_PLATFORMS="cpu"))
  assert proc.returncode == 2 and "unknown sections ['teleport']" in proc.stderr


def test_device_scripts_parse():
  for script in ("accelerator_run.sh", "prepare_accelerator_wheels.sh", "check_runtime_install.sh"):
    subprocess.run(["bash", "-n", os.path.join(ROOT, "scripts", script)], check=True)
