"""Huge pages for XLA's per-run buffers: the relaunch logic, and the page faults it saves."""

import os
import subprocess
import sys

import pytest

from jaxvis import cli, host_memory

# A program with ~130 MB of temporaries, allocated afresh at every call; prints the
# tunable it ran under and the minor page faults per call.
_SCRIPT = """
import os, resource
from jaxvis import host_memory
host_memory.relaunch_with_huge_pages()
import jax, jax.numpy as jnp
f = jax.jit(lambda x: jnp.flip(jnp.cumsum(jnp.sin(x), 0), 0)[::7].sum(0))
x = jnp.ones((4096, 8192), jnp.float32)
f(x).block_until_ready(); f(x).block_until_ready()
r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(3):
  f(x).block_until_ready()
print(os.environ.get("GLIBC_TUNABLES", "-"), (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0) // 3)
"""


def test_thp_mode_reads_the_bracketed_mode(tmp_path):
  f = tmp_path / "enabled"
  f.write_text("always [madvise] never\n")
  assert host_memory.thp_mode(str(f)) == "madvise"
  assert host_memory.thp_mode(str(tmp_path / "missing")) is None


def test_wanted_only_when_supported_and_not_set_or_turned_off():
  assert host_memory.wanted({}, mode="madvise") == host_memory._glibc_has_tunable()
  assert not host_memory.wanted({}, mode="never")
  assert not host_memory.wanted({"JAXVIS_HUGE_PAGES": "0"}, mode="always")
  assert not host_memory.wanted({"GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}, mode="always")


@pytest.mark.skipif(not host_memory.wanted({}), reason="no glibc >= 2.35 with THP madvise/always here")
def test_relaunch_sets_the_tunable_and_cuts_page_faults():
  env = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", "JAXVIS_HUGE_PAGES")}
  run = lambda extra: subprocess.run([sys.executable, "-c", _SCRIPT], env={**env, **extra}, check=True,
                                     capture_output=True, text=True, timeout=300).stdout.split()
  off_tunable, off = run({"JAXVIS_HUGE_PAGES": "0"})
  on_tunable, on = run({"GLIBC_TUNABLES": "glibc.malloc.check=0"})  # kept, the tunable appended
  assert off_tunable == "-" and on_tunable == "glibc.malloc.check=0:glibc.malloc.hugetlb=1"
  assert int(off) > 20_000        # ~130 MB of 4 KB pages faulted in at every call
  assert int(on) < int(off) // 4  # 2 MB pages


def test_command_line_relaunches_but_in_process_calls_do_not(monkeypatch):
  seen = []
  monkeypatch.setattr(host_memory, "relaunch_with_huge_pages", lambda: seen.append(1))
  assert cli.main(["info"]) == 0
  assert seen == []
  monkeypatch.setattr(sys, "argv", ["jaxvis", "info"])
  assert cli.main() == 0
  assert seen == [1]
