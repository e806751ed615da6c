"""orbax checkpoints holding train state, data-iterator state and config.

A checkpoint is written atomically (orbax finalises a temporary folder), so a
run killed mid-save resumes from the last complete one.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import jax
import orbax.checkpoint as ocp

from jaxvis.train.state import TrainState


def config_to_json(config: Any) -> dict:
  """A frozen dataclass (or dict) as plain JSON data."""
  if config is None:
    return {}
  if dataclasses.is_dataclass(config):
    config = dataclasses.asdict(config)
  return jax.tree.map(lambda v: v if isinstance(v, (int, float, str, bool, type(None))) else str(v),
                      dict(config))


class Checkpointer:
  """Saves and restores (state, data-iterator state, config) under `workdir/checkpoints`."""

  def __init__(self, workdir: str, max_to_keep: int = 3):
    self.directory = os.path.abspath(os.path.join(workdir, "checkpoints"))
    self._manager = ocp.CheckpointManager(
        self.directory, options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True))

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def save(self, step: int, state: TrainState, data_iter=None, config: Any = None,
           wait: bool = True) -> None:
    items = {"state": ocp.args.StandardSave(state.checkpoint_tree()),
             "config": ocp.args.JsonSave(config_to_json(config))}
    if data_iter is not None:
      items["data"] = ocp.args.JsonSave(data_iter.get_state())
    self._manager.save(int(step), args=ocp.args.Composite(**items))
    if wait:
      self._manager.wait_until_finished()

  def restore(self, state: TrainState, data_iter=None, step: int | None = None) -> TrainState:
    """Restores into `state`'s structure and shardings; sets `data_iter`'s position too."""
    step = self.latest_step() if step is None else step
    if step is None:
      raise FileNotFoundError(f"workdir: no checkpoint under {self.directory}")
    target = jax.tree.map(ocp.utils.to_shape_dtype_struct, state.checkpoint_tree())
    items = {"state": ocp.args.StandardRestore(target)}
    if data_iter is not None:
      items["data"] = ocp.args.JsonRestore()
    restored = self._manager.restore(step, args=ocp.args.Composite(**items))
    if data_iter is not None:
      data_iter.set_state(restored["data"])
    return state.from_checkpoint_tree(restored["state"])

  def restore_config(self, step: int | None = None) -> dict:
    step = self.latest_step() if step is None else step
    return self._manager.restore(step, args=ocp.args.Composite(config=ocp.args.JsonRestore()))["config"]

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()
