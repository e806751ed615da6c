"""Damaging a training CLI's newest checkpoint the ways disks and killed jobs do."""

from __future__ import annotations

import glob
import os


def latest_step_dir(checkpoints: str) -> str:
  steps = [d for d in glob.glob(os.path.join(checkpoints, "[0-9]*")) if os.path.isdir(d)]
  assert steps, f"no checkpoint steps under {checkpoints}"
  return max(steps, key=lambda d: int(os.path.basename(d)))


def array_files(step_dir: str) -> list[str]:
  files = [f for f in glob.glob(os.path.join(step_dir, "state", "**", "*"), recursive=True)
           if os.path.isfile(f) and f"{os.sep}d{os.sep}" in f]
  assert files, f"no array data files under {step_dir}/state"
  return files


def bit_flip(step_dir: str) -> None:
  for f in array_files(step_dir):
    raw = bytearray(open(f, "rb").read())
    raw[len(raw) // 2] ^= 0x10
    open(f, "wb").write(bytes(raw))


def truncate(step_dir: str) -> None:
  for f in array_files(step_dir):
    with open(f, "r+b") as fh:
      fh.truncate(max(1, os.path.getsize(f) // 3))
