"""The benchmark harness: timing separates compile from steady state; one JSON line per record."""

from __future__ import annotations

import json
import os
import sys
import time

import jax
import jax.numpy as jnp

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks"))
import common  # noqa: E402


def test_measure_reports_compile_apart_and_median(capsys):
  calls = []

  def fn(x):
    calls.append(1)
    return jnp.sin(x) * 2

  jitted = jax.jit(fn)
  compile_s, seconds = common.measure(jitted, jnp.ones((64, 64)), repeats=3, warmup=1)
  assert len(calls) == 1  # traced once: later calls reuse the compiled program
  assert compile_s > 0 and 0 < seconds < compile_s
  record = common.emit({"bench": "unit", "batch": 4, "dtype": "float32",
                        "items_per_s": 4 / seconds, "compile_s": compile_s})
  line = json.loads(capsys.readouterr().out.strip())
  assert line == record and line["device"].startswith("cpu") and line["bench"] == "unit"


def test_flops_of_counts_a_matmul():
  a = jnp.ones((32, 16))
  b = jnp.ones((16, 8))
  flops = common.flops_of(jnp.matmul, a, b)
  assert flops is not None and abs(flops - 2 * 32 * 16 * 8) / (2 * 32 * 16 * 8) < 0.1


def test_measure_interleaved_alternates_the_programs():
  order = []

  def make(name, seconds):
    def fn(x):
      order.append(name)
      time.sleep(seconds)
      return x
    return fn

  results = common.measure_interleaved([(make("a", 0.002), (1,)), (make("b", 0.02), (2,))],
                                       repeats=3, warmup=1)
  # compile call of each, one warm-up round, then three timed rounds, round robin
  assert order == ["a", "b"] * 5
  (_, a_s), (_, b_s) = results
  assert 0.002 <= a_s < b_s and b_s >= 0.02


def test_quick_settings_still_warm_up_and_repeat():
  calls = []

  def fn(x):
    calls.append(1)
    return x

  common.measure(fn, 1, repeats=1, warmup=0)  # what a --quick mode used to ask for
  assert len(calls) == 1 + 1 + common.MIN_REPEATS  # compile call, one warm-up, >= 3 timed
  calls.clear()
  common.measure_interleaved([(fn, (1,)), (fn, (2,))], repeats=1, warmup=0)
  assert len(calls) == 2 * (1 + 1 + common.MIN_REPEATS)
