"""Transparent huge pages for XLA:CPU's per-run buffers (glibc's `glibc.malloc.hugetlb` tunable).

XLA:CPU allocates each run's temporaries afresh, and glibc serves requests that
large with `mmap` and unmaps them on free, so every run faults every 4 KB page
in again: the face cascade takes 263,000 minor page faults per 1920x1080 frame
(~1 GB) and 11,500 per 640x480 frame. With `GLIBC_TUNABLES=glibc.malloc.hugetlb=1`
malloc asks the kernel for transparent huge pages (2 MB) wherever its THP mode is
`madvise` (the common default) or `always`: 1,500 faults per 1080p frame, and
detection 1.90 -> 1.45 s (1080p) and 136 -> 88 ms (640x480) per frame on one core.
(facenet-pytorch keeps its buffers cached: no faults, no change.)

A tunable is read when a process starts, so `relaunch_with_huge_pages()` re-executes
the current command once with it set; the `jaxvis` command and the benchmarks call it
before importing JAX. `JAXVIS_HUGE_PAGES=0` turns it off. Library users can export
`GLIBC_TUNABLES=glibc.malloc.hugetlb=1` themselves. No effect off Linux / glibc.
"""

from __future__ import annotations

import os
import platform
import sys

TUNABLE = "glibc.malloc.hugetlb"
THP_MODE_FILE = "/sys/kernel/mm/transparent_hugepage/enabled"


def thp_mode(path: str = THP_MODE_FILE) -> str | None:
  """The kernel's THP mode ("always", "madvise", "never"), or None where there is none."""
  try:
    with open(path) as f:
      text = f.read()
  except OSError:
    return None
  start, end = text.find("["), text.find("]")
  return text[start + 1:end] if 0 <= start < end else None


def _glibc_has_tunable() -> bool:
  name, version = platform.libc_ver()
  try:
    return name == "glibc" and tuple(int(v) for v in version.split(".")[:2]) >= (2, 35)
  except ValueError:
    return False


def wanted(environ=os.environ, mode: str | None = None) -> bool:
  """Whether a relaunch would turn huge pages on: not yet set, not turned off, supported."""
  if environ.get("JAXVIS_HUGE_PAGES", "1") == "0" or TUNABLE in environ.get("GLIBC_TUNABLES", ""):
    return False
  return (mode or thp_mode()) in ("madvise", "always") and _glibc_has_tunable()


def relaunch_with_huge_pages() -> None:
  """Re-executes this process's command line with the tunable set (returns if not wanted)."""
  if not wanted():
    return
  env = dict(os.environ)
  env["GLIBC_TUNABLES"] = ":".join(filter(None, [env.get("GLIBC_TUNABLES"), f"{TUNABLE}=1"]))
  sys.stdout.flush()
  sys.stderr.flush()
  os.execve(sys.executable, [sys.executable] + sys.orig_argv[1:], env)
