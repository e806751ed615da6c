"""Initial variables of a Linen module, drawn in one compiled program.

`module.init` run eagerly compiles and runs every primitive of every initializer on its
own: one small XLA program per (operation, shape), ~470 for the QR verifier's DenseNet,
whose compilations took ~20 of the ~60 s the tiny QR experiment spent compiling (session
11, `JAX_LOG_COMPILES=1`). Under one `jax.jit` the whole initialisation is a single
program. The module is a static argument (Linen modules hash by their fields), so a second
call with an equal module and example shapes reuses the compiled program.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax


@functools.partial(jax.jit, static_argnums=0)
def init_variables(module: nn.Module, rngs, *example):
  """`module.init(rngs, *example)` as one compiled program (same values, same structure)."""
  return module.init(rngs, *example)
