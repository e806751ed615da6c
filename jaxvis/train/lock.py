"""A workdir lock: two runs writing one workdir would interleave metrics and checkpoints.

An advisory `flock` on `<workdir>/.lock`; the kernel drops it when the process
dies (even by SIGKILL), so a killed run never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os

from jaxvis.errors import InputError


@contextlib.contextmanager
def workdir_lock(workdir: str):
  """Holds the lock for the `with` block; refuses at once if another process holds it."""
  os.makedirs(workdir, exist_ok=True)
  path = os.path.join(workdir, ".lock")
  fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
  try:
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
      raise InputError("workdir", f"{os.path.abspath(workdir)} is in use by another run "
                                  f"(pid {holder}); wait for it or use a new --workdir") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    yield
  finally:
    os.close(fd)  # closing the descriptor releases the flock
