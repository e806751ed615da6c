"""Shared benchmark harness: warm-up, compile time apart, block_until_ready, median of repeats.

Every benchmark prints one JSON line per configuration with at least
`bench, device, dtype, batch, items_per_s, compile_s`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Callable, Sequence

import jax

from jaxvis import host_memory

MIN_REPEATS = 3  # timed calls per measurement, whatever a script or --repeats asks for
SINKS: list = []  # callables that also receive every emitted record (benchmarks/accelerator.py)


def parse_args(description: str, extra: Sequence[tuple[tuple, dict]] = ()) -> argparse.Namespace:
  """`--quick` (finishes in under a minute on a 2-core CPU) plus script-specific flags."""
  parser = argparse.ArgumentParser(description=description)
  parser.add_argument("--quick", action="store_true", help="small configurations, < 1 minute on CPU")
  parser.add_argument("--repeats", type=int, default=None, help="timed repeats (median is reported)")
  for flag_args, flag_kwargs in extra:
    parser.add_argument(*flag_args, **flag_kwargs)
  args = parser.parse_args()
  # Every benchmark process, peers included, runs with glibc's huge-page tunable, as the
  # `jaxvis` command does: this re-executes the script once with it set (host_memory).
  host_memory.relaunch_with_huge_pages()
  return args


def device_name() -> str:
  d = jax.devices()[0]
  return f"{d.platform}:{d.device_kind}"


def _block(out):
  return jax.tree.map(lambda x: x.block_until_ready() if hasattr(x, "block_until_ready") else x, out)


def measure(fn: Callable, *args, repeats: int = 5, warmup: int = 1) -> tuple[float, float]:
  """Returns (compile_s, median seconds per call).

  The first call (trace + compile + one run) is timed apart as compile_s; then
  `warmup` untimed calls, then `repeats` timed calls, each waited for. At least
  one warm-up and `MIN_REPEATS` repeats always run, in --quick modes too: one
  timed call is noise (a --quick ratio once read 2.2-3.0x where five repeats gave 1.65x).
  """
  repeats, warmup = max(MIN_REPEATS, repeats), max(1, warmup)
  t0 = time.perf_counter()
  _block(fn(*args))
  compile_s = time.perf_counter() - t0
  for _ in range(warmup):
    _block(fn(*args))
  times = []
  for _ in range(max(1, repeats)):
    t0 = time.perf_counter()
    _block(fn(*args))
    times.append(time.perf_counter() - t0)
  return compile_s, statistics.median(times)


def measure_interleaved(calls: Sequence[tuple[Callable, tuple]], repeats: int = 5,
                        warmup: int = 1) -> list[tuple[float, float]]:
  """`measure` for several programs whose time *ratio* matters: (compile_s, median s) each.

  The timed calls alternate between the programs (round robin), so a change of machine load
  during the run slows all of them alike instead of biasing the ratio.
  """
  repeats, warmup = max(MIN_REPEATS, repeats), max(1, warmup)
  compile_s = []
  for fn, args in calls:
    t0 = time.perf_counter()
    _block(fn(*args))
    compile_s.append(time.perf_counter() - t0)
  for _ in range(warmup):
    for fn, args in calls:
      _block(fn(*args))
  times = [[] for _ in calls]
  for _ in range(max(1, repeats)):
    for k, (fn, args) in enumerate(calls):
      t0 = time.perf_counter()
      _block(fn(*args))
      times[k].append(time.perf_counter() - t0)
  return [(c, statistics.median(t)) for c, t in zip(compile_s, times)]


def emit(record: dict) -> dict:
  """Adds the device and prints the record as one JSON line (flushed)."""
  record = {"bench": record.pop("bench"), "device": device_name(), **record}
  for key in ("items_per_s", "compile_s"):
    if key in record and isinstance(record[key], float):
      record[key] = round(record[key], 4)
  print(json.dumps(record), flush=True)
  for sink in SINKS:
    sink(record)
  return record


# Dense bf16 / fp32 peak FLOP/s of accelerators this project is run on (vendor data sheets,
# dense, no sparsity): used to report the achieved fraction of peak.
PEAK_FLOPS = {
    "H100": {"bfloat16": 989e12, "float32": 67e12},
    "H200": {"bfloat16": 989e12, "float32": 67e12},
    "A100": {"bfloat16": 312e12, "float32": 19.5e12},
}


def peak_flops(dtype: str) -> float | None:
  kind = jax.devices()[0].device_kind
  for name, peaks in PEAK_FLOPS.items():
    if name in kind:
      return peaks.get(dtype)
  return None


def peak_fields(flops: float | None, seconds: float, dtype: str) -> dict:
  """`achieved_tflops` and `fraction_of_peak` (data-sheet peak, known accelerators) of one call."""
  if not flops:
    return {}
  out = {"achieved_tflops": round(flops / seconds / 1e12, 4)}
  peak = peak_flops(dtype)
  if peak:
    out["fraction_of_peak"] = round(flops / seconds / peak, 4)
  return out


def matmul_flops_per_s(dtype: str, n: int | None = None) -> float:
  """Measured FLOP/s of a large square matmul: the device's practical peak for dense work.

  Used where no data-sheet peak is known (CPUs), so a model's throughput can be
  stated as a fraction of what this device reaches on its best-case kernel.
  """
  import jax.numpy as jnp
  n = n or (2048 if jax.devices()[0].platform == "cpu" else 8192)
  a = jax.random.normal(jax.random.key(0), (n, n), getattr(jnp, dtype))
  _, seconds = measure(jax.jit(jnp.matmul), a, a, repeats=3)
  return 2.0 * n**3 / seconds


def flops_of(fn: Callable, *args) -> float | None:
  """XLA's FLOP count for one call of a jitted `fn` (None if unavailable).

  The lowered (uncompiled) HLO's estimate first: no second compile. On the H100
  with jax 0.11.2 it gave none (every GPU record of the first accelerator run lacks
  its fraction of peak), so the compiled program's analysis is the fallback.
  """
  try:  # cost analysis is best-effort and backend-dependent
    lowered = jax.jit(fn).lower(*args)
  except Exception:
    return None
  for analyse in (lowered.cost_analysis, lambda: lowered.compile().cost_analysis()):
    try:
      cost = analyse()
    except Exception:
      continue
    if isinstance(cost, (list, tuple)):
      cost = cost[0] if cost else None
    if cost and cost.get("flops"):
      return float(cost["flops"])
  return None


def log(msg: str) -> None:
  print(msg, file=sys.stderr, flush=True)
