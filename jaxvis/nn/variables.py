"""Initial variables of a Linen module, drawn in one compiled program.

`module.init` run eagerly compiles and runs every primitive of every initializer on its
own: one small XLA program per (operation, shape), ~470 for the QR verifier's DenseNet,
whose compilations took ~20 of the ~60 s the tiny QR experiment spent compiling (session
11, `JAX_LOG_COMPILES=1`). Under one `jax.jit` the whole initialisation is a single
program. The module is a static argument (Linen modules hash by their fields), so a second
call with an equal module and example shapes reuses the compiled program; a module that
does not hash (a field holding a list or a dict, as users' modules may) is still
initialised in one program, compiled for that call.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax


def init_variables(module: nn.Module, rngs, *example, **example_kwargs):
  """`module.init(rngs, *example, **example_kwargs)` as one compiled program (same values,
  same structure); keyword arguments are traced like the positional ones."""
  try:
    hash(module)
  except TypeError:
    return jax.jit(module.init)(rngs, *example, **example_kwargs)
  return _init_static(module, rngs, *example, **example_kwargs)


@functools.partial(jax.jit, static_argnums=0)
def _init_static(module: nn.Module, rngs, *example, **example_kwargs):
  return module.init(rngs, *example, **example_kwargs)
