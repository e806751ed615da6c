"""The generic fit loop: progress, JSON-lines metrics, periodic eval, resumable checkpoints."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import jax
from tqdm.auto import tqdm

from jaxvis.train.checkpoint import Checkpointer
from jaxvis.train.metrics import MetricWriter
from jaxvis.train.parallel import replicate, shard_batch
from jaxvis.train.state import TrainState


def fit(state: TrainState, train_step: Callable, train_iter: Iterator, *, num_steps: int,
        rng: jax.Array, mesh, workdir: str | None = None, config: Any = None,
        checkpoint_every: int = 0, eval_fn: Callable[[TrainState], dict] | None = None,
        eval_every: int = 0, log_every: int = 10, progress: bool = True,
        desc: str = "train") -> TrainState:
  """Runs `train_step` until `state.step == num_steps`.

  Args:
    state: the initial state (restored from `workdir` instead, if a checkpoint exists).
    train_step: from `make_train_step`: `(state, batch, rng) -> (state, metrics)`.
    train_iter: yields this process's numpy batches (a `jaxvis.data.loader` iterator,
      whose position is checkpointed too).
    num_steps: total optimizer steps of the run (not steps still to do).
    rng: the run's key (folded with the step inside the step function).
    mesh: the `data` mesh.
    workdir: where checkpoints and metrics.jsonl go; None keeps nothing.
    config: saved with each checkpoint (a dataclass or dict).
    checkpoint_every: save every N steps (and always at the end) when `workdir` is set.
    eval_fn: `state -> dict of metrics`, run every `eval_every` steps and at the end.
    log_every: write training metrics every N steps.
  """
  if num_steps < 0:
    raise ValueError(f"num_steps: expected >= 0, got {num_steps}")
  state = replicate(state, mesh)
  writer = MetricWriter(workdir)
  ckpt = Checkpointer(workdir) if workdir is not None else None
  if ckpt is not None and ckpt.latest_step() is not None:
    state = ckpt.restore(state, _checkpointable(train_iter))
  step = int(jax.device_get(state.step))
  bar = tqdm(total=num_steps, initial=step, desc=desc, disable=not progress or jax.process_index() != 0,
             dynamic_ncols=True)
  try:
    while step < num_steps:
      batch = shard_batch(next(train_iter), mesh)
      state, metrics = train_step(state, batch, rng)
      step += 1
      bar.update(1)
      if log_every and (step % log_every == 0 or step == num_steps):
        record = writer.write(step, metrics)
        bar.set_postfix({k: f"{v:.4g}" for k, v in record.items() if isinstance(v, float)},
                        refresh=False)
      if eval_fn is not None and eval_every and step % eval_every == 0 and step != num_steps:
        writer.write(step, eval_fn(state), prefix="eval_")
      if ckpt is not None and checkpoint_every and step % checkpoint_every == 0:
        ckpt.save(step, state, _checkpointable(train_iter), config)
    if eval_fn is not None:
      writer.write(step, eval_fn(state), prefix="eval_")
    if ckpt is not None and ckpt.latest_step() != step:
      ckpt.save(step, state, _checkpointable(train_iter), config)
  finally:
    bar.close()
    writer.close()
    if ckpt is not None:
      ckpt.close()
  return state


def _checkpointable(it):
  """The iterator if its position can be saved, else None (state alone is checkpointed)."""
  return it if hasattr(it, "get_state") and hasattr(it, "set_state") else None
