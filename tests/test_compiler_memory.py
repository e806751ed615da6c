"""The heap is trimmed after each XLA compilation (compiler memory back to the OS)."""

import jax
import jax.numpy as jnp

from jaxvis import cli, compiler_memory


def test_trim_runs_after_each_backend_compilation(monkeypatch):
  calls = []
  monkeypatch.setattr(compiler_memory, "trim", lambda: calls.append(1) or True)
  assert compiler_memory.release_after_compile() is True  # glibc here
  assert compiler_memory.release_after_compile() is True  # idempotent: one listener
  x = jax.device_put(jnp.arange(7.0)).block_until_ready()
  before = len(calls)
  jax.jit(lambda x: jnp.sin(x) * 3.0 + 1.25)(x).block_until_ready()  # one new program
  assert len(calls) == before + 1
  jax.jit(lambda x: jnp.sin(x) * 3.0 + 1.25)  # no compilation without a call: nothing more
  assert len(calls) == before + 1


def test_trim_returns_memory_with_glibc():
  assert compiler_memory.trim() is True


def test_command_line_turns_it_on(monkeypatch):
  seen = []
  monkeypatch.setattr(compiler_memory, "release_after_compile", lambda: seen.append(1) or True)
  monkeypatch.setenv("JAXVIS_COMPILATION_CACHE", "")
  cli.configure_jax()
  assert seen == [1]
