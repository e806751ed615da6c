"""Keeps a process's compiled XLA programs under Linux's limit of memory mappings.

XLA:CPU maps every kernel of a compiled program into memory on its own (code, constants
and data: 1,800-2,500 mappings for one face cascade), and jax keeps every program it
compiled for as long as the process lives. Linux allows a process `vm.max_map_count`
mappings (65,530 by default); past it `mmap` fails and XLA crashes (a segfault compiling or
writing the compilation cache). A process that detects faces in photos of ~30 different
sizes gets there (each canvas size is a program, and so is each larger-cap re-run).

`release_if_crowded()` is called by the entry points that compile per input size
(`faces.cascade.detect`, the QR-code detector, proposal mining): after a compilation, it
counts the process's mappings and, past `RELEASE_FRACTION` of the limit, drops jax's
compiled programs (`jax.clear_caches`): the next calls compile again (or load from the
persistent compilation cache) instead of crashing. No effect where /proc is missing.
"""

from __future__ import annotations

import functools
import gc
import threading

from jaxvis.compiler_memory import BACKEND_COMPILE_EVENT

MAPS_FILE = "/proc/self/maps"
LIMIT_FILE = "/proc/sys/vm/max_map_count"
RELEASE_FRACTION = 0.5  # ~15 more cascades still fit: each adds 1,800-2,500

# BACKEND_COMPILE_EVENT fires after each executable is compiled or loaded from the
# persistent cache.
_compilations = 0   # counted by the listener
_counted_at = -1    # `_compilations` when the mappings were last counted
releases = 0        # how often programs were dropped (for tests and diagnostics)
# Proposal mining calls `release_if_crowded` from grain's prefetch threads beside the
# main thread: one check-and-release at a time, so two threads never both count and clear.
_lock = threading.Lock()


def mapping_count(path: str = MAPS_FILE) -> int | None:
  """This process's memory mappings, or None where /proc is missing."""
  try:
    with open(path, "rb") as f:
      return sum(1 for _ in f)
  except OSError:
    return None


@functools.lru_cache(maxsize=1)
def mapping_limit(path: str = LIMIT_FILE) -> int | None:
  """The kernel's per-process mapping limit (vm.max_map_count), or None where unknown."""
  try:
    with open(path) as f:
      return int(f.read().split()[0])
  except (OSError, ValueError, IndexError):
    return None


def _on_event(event: str, duration_secs: float, **kwargs) -> None:
  global _compilations
  if event == BACKEND_COMPILE_EVENT:
    _compilations += 1


@functools.lru_cache(maxsize=1)
def _watch() -> None:
  import jax.monitoring
  jax.monitoring.register_event_duration_secs_listener(_on_event)


def compilation_count() -> int:
  """Executables this process compiled or loaded from the persistent cache since this module
  started counting (at the first call of this or `release_if_crowded`)."""
  _watch()
  return _compilations


def release_if_crowded(fraction: float | None = None) -> bool:
  """Drops jax's compiled programs if the mappings passed `fraction` (default
  `RELEASE_FRACTION`) of the limit.

  Counts the mappings only when a program was compiled since the last count, so a
  call costs nothing between compilations. Returns whether programs were released.
  """
  global _counted_at, releases
  fraction = RELEASE_FRACTION if fraction is None else fraction
  _watch()
  with _lock:
    if _compilations == _counted_at:
      return False
    _counted_at = _compilations
    count, limit = mapping_count(), mapping_limit()
    if count is None or limit is None or count < fraction * limit:
      return False
    import jax
    jax.clear_caches()
    gc.collect()  # the executables go with their last reference: their mappings with them
    releases += 1
    return True
