"""Turns a pure loss into one jitted, sharded training step (and an eval step).

    loss_fn(params, model_state, batch, rng) -> (loss, (new_model_state, metrics))

The step is `jax.jit`-compiled once with explicit shardings: state replicated,
batch split over the mesh's `data` axis, state donated. Gradients of the mean
loss over the global batch are what XLA all-reduces; no pmap, no pmean.

A step whose loss or gradients are NaN / infinite leaves the parameters,
optimizer and model state as they were (only the step counter advances) and
reports `nonfinite = 1`; `fit` then stops or carries on as its
`on_nonfinite` says. The state itself never becomes non-finite.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from jaxvis.train.parallel import batch_sharding, replicated_sharding
from jaxvis.train.state import TrainState


def make_train_step(loss_fn: Callable, mesh, donate: bool = True) -> Callable:
  """Returns `step(state, batch, rng) -> (state, metrics)`.

  `rng` is the run's key; the step folds in `state.step`, so each step gets a
  fresh key and a resumed run draws the same keys as an uninterrupted one.
  """
  repl = replicated_sharding(mesh)
  data = batch_sharding(mesh)

  def step(state: TrainState, batch, rng):
    rng = jax.random.fold_in(rng, state.step)
    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
    (loss, (model_state, metrics)), grads = grad_fn(state.params, state.model_state, batch, rng)
    metrics = dict(metrics)
    metrics.setdefault("loss", loss)
    finite = jnp.isfinite(loss) & _all_finite(grads)
    updated = state.apply_gradients(grads, model_state=model_state)
    kept = jax.tree.map(lambda new, old: jnp.where(finite, new, old),
                        updated.replace(step=state.step), state)
    metrics["nonfinite"] = 1 - finite.astype(jnp.int32)
    return kept.replace(step=updated.step), metrics

  return jax.jit(step, in_shardings=(repl, data, repl), out_shardings=(repl, repl),
                 donate_argnums=(0,) if donate else ())


def _all_finite(tree) -> jax.Array:
  leaves = [jnp.isfinite(x).all() for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.inexact)]
  return jnp.stack(leaves).all() if leaves else jnp.asarray(True)


def make_eval_step(metrics_fn: Callable, mesh) -> Callable:
  """Returns `eval_step(state, batch) -> metrics` for `metrics_fn(params, model_state, batch)`."""
  repl = replicated_sharding(mesh)
  data = batch_sharding(mesh)

  def step(state: TrainState, batch):
    return metrics_fn(state.params, state.model_state, batch)

  return jax.jit(step, in_shardings=(repl, data), out_shardings=repl)
