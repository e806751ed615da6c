"""How far XLA:CPU's convolution is from this CPU: P-Net's conv3 beside a plain native kernel.

A probe for issue 15's CPU floor, not part of the library. It builds
`benchmarks/native/conv3x3_16_32.cc` (a straightforward AVX-512 kernel behind XLA's FFI)
with the system's g++ into a temporary folder, checks that it gives XLA's values, then times
XLA's `conv_general_dilated`, the kernel on one thread and on two, interleaved
(`common.measure_interleaved`), on the conv3 input of P-Net's largest pyramid level for
640x480 and 1920x1080 frames (16 -> 32 channels, 3x3, VALID). Records say GFLOP/s and the
speed-up over XLA. Without g++ or an AVX-512 CPU it says so and exits 0. (Session 13 gave the
library kernels of its own on this footing, `jaxvis/native/`; this probe stays as the
measurement that motivated them.)

  python benchmarks/native_conv.py [--repeats N]
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile

import common
import jax
import jax.numpy as jnp
import numpy as np

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "native", "conv3x3_16_32.cc")
# conv3's input at P-Net's first level (scale 0.6 for min_face_size 20): frame -> conv1 ->
# 2x2 pool -> conv2, batch 1
SHAPES = {"480x640": (1, 141, 189, 16), "1080x1920": (1, 321, 573, 16)}


def build() -> str | None:
  """Compiles the kernel; returns the shared library's path, or None (and says why)."""
  if shutil.which("g++") is None:
    common.log("native_conv: no g++ on this machine; nothing measured")
    return None
  if "avx512f" not in open("/proc/cpuinfo").read():
    common.log("native_conv: this CPU has no AVX-512; nothing measured")
    return None
  out = os.path.join(tempfile.mkdtemp(prefix="jaxvis-native-"), "libconv3x3.so")
  subprocess.run(["g++", "-O3", "-march=native", "-std=c++17", "-shared", "-fPIC", "-pthread", "-w",
                  "-I", jax.ffi.include_dir(), SOURCE, "-o", out], check=True)
  return out


def native_conv(threads: int):
  def run(x, w):
    n, h, width, _ = x.shape
    out = jax.ShapeDtypeStruct((n, h - 2, width - 2, 32), jnp.float32)
    return jax.ffi.ffi_call("jaxvis_probe_conv3x3_16_32", out)(x, w, threads=np.int64(threads))
  return jax.jit(run)


def xla_conv(x, w):
  return jax.lax.conv_general_dilated(x, w, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"))


def main() -> None:
  args = common.parse_args(__doc__.splitlines()[0])
  library = build()
  if library is None:
    return
  lib = ctypes.cdll.LoadLibrary(library)
  jax.ffi.register_ffi_target("jaxvis_probe_conv3x3_16_32", jax.ffi.pycapsule(lib.Conv3x3_16_32),
                              platform="cpu")
  w = jax.random.normal(jax.random.key(0), (3, 3, 16, 32)) * 0.1
  calls = {"xla": jax.jit(xla_conv), "native_1_thread": native_conv(1), "native_2_threads": native_conv(2)}
  for name, shape in SHAPES.items():
    x = jax.random.normal(jax.random.key(1), shape)
    ref = np.asarray(calls["xla"](x, w))
    for k in ("native_1_thread", "native_2_threads"):
      diff = float(np.abs(np.asarray(calls[k](x, w)) - ref).max())
      if diff > 1e-4 * max(1.0, float(np.abs(ref).max())):
        raise AssertionError(f"{k} differs from XLA by {diff} on {shape}")
    timed = common.measure_interleaved([(f, (x, w)) for f in calls.values()], repeats=args.repeats or 9)
    flops = 2 * (shape[1] - 2) * (shape[2] - 2) * 32 * 9 * 16 * shape[0]
    xla_s = timed[0][1]
    for (impl, _), (_, seconds) in zip(calls.items(), timed):
      common.emit({"bench": "native_conv", "layer": "pnet_conv3", "frame": name, "shape": list(shape),
                   "impl": impl, "ms": round(seconds * 1000, 3), "gflop_per_s": round(flops / seconds / 1e9, 1),
                   "speedup_vs_xla": round(xla_s / seconds, 2), "load_avg_1m": round(os.getloadavg()[0], 2)})


if __name__ == "__main__":
  main()
