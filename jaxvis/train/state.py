"""Train state: step, params, optimizer state and non-trained model state (BN stats)."""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import optax


class TrainState(flax.struct.PyTreeNode):
  """A pytree holding everything a training step updates.

  Attributes:
    step: number of optimizer updates applied (an int32 scalar array).
    params: trainable parameters.
    opt_state: optax state.
    model_state: mutable non-trained collections (e.g. {"batch_stats": ...}); {} if none.
    tx: the optax transformation (static, not checkpointed).
  """
  step: jax.Array
  params: Any
  opt_state: Any
  model_state: Any
  tx: optax.GradientTransformation = flax.struct.field(pytree_node=False)

  @classmethod
  def create(cls, params, tx: optax.GradientTransformation, model_state=None) -> "TrainState":
    import jax.numpy as jnp
    return cls(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params),
               model_state={} if model_state is None else model_state, tx=tx)

  def apply_gradients(self, grads, model_state=None) -> "TrainState":
    updates, opt_state = self.tx.update(grads, self.opt_state, self.params)
    return self.replace(step=self.step + 1, params=optax.apply_updates(self.params, updates),
                        opt_state=opt_state,
                        model_state=self.model_state if model_state is None else model_state)

  def checkpoint_tree(self) -> dict:
    """The arrays that a checkpoint stores (tx is code, not state)."""
    return {"step": self.step, "params": self.params, "opt_state": self.opt_state,
            "model_state": self.model_state}

  def from_checkpoint_tree(self, tree: dict) -> "TrainState":
    return self.replace(**tree)
