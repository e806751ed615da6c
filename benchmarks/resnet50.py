"""ResNet-50 forward throughput (images/s) at batch 1, 8, 64 in float32 and bfloat16.

    python benchmarks/resnet50.py [--quick]
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

import common
from jaxvis.nn import resnet
from jaxvis.nn.variables import init_variables


def main() -> None:
  args = common.parse_args(__doc__.splitlines()[0])
  batches = (1, 8) if args.quick else (1, 8, 64)
  size = 224
  repeats = args.repeats or (1 if args.quick else 5)
  init_model = resnet.ResNet50()
  x0 = jnp.zeros((1, size, size, 3), jnp.float32)
  variables = init_variables(init_model, jax.random.key(0), x0)
  for dtype_name in ("float32", "bfloat16"):
    model = resnet.ResNet50(dtype=getattr(jnp, dtype_name))
    peak = common.peak_flops(dtype_name)
    matmul_peak = common.matmul_flops_per_s(dtype_name)
    forward = jax.jit(model.apply)
    for batch in batches:
      x = jax.random.uniform(jax.random.key(1), (batch, size, size, 3), jnp.float32)
      compile_s, seconds = common.measure(forward, variables, x, repeats=repeats,
                                          warmup=0 if args.quick else 1)
      record = {"bench": "resnet50", "model": "resnet50", "dtype": dtype_name, "batch": batch,
                "height": size, "width": size, "items_per_s": batch / seconds,
                "compile_s": compile_s, "ms_per_batch": round(seconds * 1e3, 3)}
      flops = common.flops_of(model.apply, variables, x)
      if flops:
        record["gflops_per_image"] = round(flops / batch / 1e9, 3)
        record["achieved_tflops"] = round(flops / seconds / 1e12, 4)
        if peak:  # data-sheet peak (known accelerators)
          record["fraction_of_peak"] = round(flops / seconds / peak, 4)
        # measured best-case dense kernel on this device (a large matmul)
        record["matmul_tflops"] = round(matmul_peak / 1e12, 4)
        record["fraction_of_matmul_peak"] = round(flops / seconds / matmul_peak, 4)
      common.emit(record)


if __name__ == "__main__":
  main()
