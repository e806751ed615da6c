"""`init_variables`: module.init as one compiled program, reused for equal modules."""

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxvis import compiled_programs
from jaxvis.nn.variables import init_variables


class _Net(nn.Module):  # defined here: no other test compiles its initialisation
  features: int = 7

  @nn.compact
  def __call__(self, x):
    x = nn.relu(nn.Conv(self.features, (3, 3))(x))
    x = nn.BatchNorm(use_running_average=True)(x)
    return nn.Dense(5)(x.reshape(x.shape[0], -1))


def _compilations_during(fn):
  before = compiled_programs.compilation_count()
  out = jax.block_until_ready(fn())
  return out, compiled_programs.compilation_count() - before


def test_same_variables_as_eager_init_in_one_compilation():
  x = jnp.zeros((1, 9, 11, 3))
  want = _Net().init(jax.random.key(3), x)
  got, n = _compilations_during(lambda: init_variables(_Net(), jax.random.key(3), x))
  assert n == 1
  assert jax.tree.structure(got) == jax.tree.structure(want)
  for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
  again, n = _compilations_during(lambda: init_variables(_Net(), jax.random.key(4), x))
  assert n == 0                          # an equal module, same shapes: the program is reused
  assert not np.allclose(again["params"]["Conv_0"]["kernel"], got["params"]["Conv_0"]["kernel"])
  _, n = _compilations_during(lambda: init_variables(_Net(features=6), jax.random.key(4), x))
  assert n == 1                          # another module: its own program


def test_rng_dicts_and_several_example_inputs():
  class Two(nn.Module):
    @nn.compact
    def __call__(self, a, b, train: bool = False):
      return nn.Dropout(0.5, deterministic=not train)(nn.Dense(3)(a) + nn.Dense(3)(b))
  key = jax.random.key(0)
  v = init_variables(Two(), {"params": key, "dropout": key}, jnp.ones((2, 4)), jnp.ones((2, 5)))
  assert v["params"]["Dense_0"]["kernel"].shape == (4, 3)
  assert v["params"]["Dense_1"]["kernel"].shape == (5, 3)
  by_name = init_variables(Two(), {"params": key, "dropout": key}, jnp.ones((2, 4)), b=jnp.ones((2, 5)))
  for a, b in zip(jax.tree.leaves(by_name), jax.tree.leaves(v)):
    np.testing.assert_array_equal(a, b)       # keyword example inputs: the same variables


def test_modules_with_unhashable_fields_still_initialise_in_one_program():
  class Mlp(nn.Module):  # a list field, as users write them: the module does not hash
    features: Sequence[int] = (3,)

    @nn.compact
    def __call__(self, x):
      for f in self.features:
        x = nn.Dense(f)(x)
      return x
  m = Mlp(features=[4, 7])
  x = jnp.ones((1, 2))
  got, n = _compilations_during(lambda: init_variables(m, jax.random.key(1), x))
  assert n == 1
  want = m.init(jax.random.key(1), x)
  for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
  assert got["params"]["Dense_1"]["kernel"].shape == (4, 7)
