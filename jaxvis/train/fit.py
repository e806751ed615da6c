"""The generic fit loop: progress, JSON-lines metrics, periodic eval, resumable checkpoints."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import jax
from tqdm.auto import tqdm

from jaxvis.errors import InputError
from jaxvis.train.checkpoint import Checkpointer
from jaxvis.train.lock import workdir_lock
from jaxvis.train.metrics import MetricWriter
from jaxvis.train.parallel import replicate, shard_batch
from jaxvis.train.state import TrainState


def fit(state: TrainState, train_step: Callable, train_iter: Iterator, *, num_steps: int,
        rng: jax.Array, mesh, workdir: str | None = None, config: Any = None,
        checkpoint_every: int = 0, eval_fn: Callable[[TrainState], dict] | None = None,
        eval_every: int = 0, log_every: int = 10, progress: bool = True,
        desc: str = "train", on_nonfinite: str = "stop") -> TrainState:
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
    on_nonfinite: what to do after a step with a NaN / infinite loss or gradient
      (`make_train_step` has already left the state unchanged for that step):
      "stop" raises `TrainingDiverged` at the next log point or checkpoint (the
      last good checkpoint stays), "skip" carries on and counts the skipped
      steps in the `nonfinite_total` metric.

  Raises:
    InputError: the workdir is in use by another run, holds an incompatible or
      no readable checkpoint, or an argument is out of range.
    TrainingDiverged: the loss became non-finite and `on_nonfinite="stop"`.
  """
  if num_steps < 0:
    raise InputError("num_steps", f"expected >= 0, got {num_steps}")
  if on_nonfinite not in ("stop", "skip"):
    raise InputError("on_nonfinite", f"expected 'stop' or 'skip', got {on_nonfinite!r}")
  if workdir is not None and jax.process_index() == 0:
    with workdir_lock(workdir):
      return _fit(state, train_step, train_iter, num_steps, rng, mesh, workdir, config,
                  checkpoint_every, eval_fn, eval_every, log_every, progress, desc, on_nonfinite)
  return _fit(state, train_step, train_iter, num_steps, rng, mesh, workdir, config,
              checkpoint_every, eval_fn, eval_every, log_every, progress, desc, on_nonfinite)


class TrainingDiverged(InputError):
  """The loss or gradients became NaN / infinite (usually: learning rate too high)."""


def _fit(state, train_step, train_iter, num_steps, rng, mesh, workdir, config, checkpoint_every,
         eval_fn, eval_every, log_every, progress, desc, on_nonfinite) -> TrainState:
  state = replicate(state, mesh)
  writer = MetricWriter(workdir)
  ckpt = Checkpointer(workdir) if workdir is not None else None
  if ckpt is not None and ckpt.latest_step() is not None:
    state = ckpt.restore(state, _checkpointable(train_iter), config=config)
  step = int(jax.device_get(state.step))
  bar = tqdm(total=num_steps, initial=step, desc=desc, disable=not progress or jax.process_index() != 0,
             dynamic_ncols=True)
  skipped = _NonfiniteCount(on_nonfinite)
  try:
    while step < num_steps:
      batch = shard_batch(next(train_iter), mesh)
      state, metrics = train_step(state, batch, rng)
      step += 1
      bar.update(1)
      skipped.add(metrics)
      at_log = log_every and (step % log_every == 0 or step == num_steps)
      at_checkpoint = ckpt is not None and checkpoint_every and step % checkpoint_every == 0
      if at_log or at_checkpoint:
        skipped.check(step, ckpt)
      if at_log:
        record = writer.write(step, {**metrics, **skipped.metrics()})
        bar.set_postfix({k: f"{v:.4g}" for k, v in record.items() if isinstance(v, float)},
                        refresh=False)
      if eval_fn is not None and eval_every and step % eval_every == 0 and step != num_steps:
        writer.write(step, eval_fn(state), prefix="eval_")
      if at_checkpoint:
        ckpt.save(step, state, _checkpointable(train_iter), config)
    skipped.check(step, ckpt)
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


class _NonfiniteCount:
  """Sums the steps' `nonfinite` flags on device; reads them back only at check points."""

  def __init__(self, policy: str):
    self.policy = policy
    self.total = 0
    self._pending = []

  def add(self, metrics: dict) -> None:
    if "nonfinite" in metrics:
      self._pending.append(metrics["nonfinite"])
    elif "loss" in metrics:  # a custom step without the guard: judge by the loss
      self._pending.append(1 - jax.numpy.isfinite(metrics["loss"]).astype("int32"))
    if len(self._pending) >= 256:  # fold on device so long unlogged runs hold one scalar
      self._pending = [sum(self._pending)]

  def metrics(self) -> dict:
    return {"nonfinite_total": self.total}

  def check(self, step: int, ckpt) -> None:
    if self._pending:
      self.total += int(sum(int(jax.device_get(v)) for v in self._pending))
      self._pending = []
    if self.total and self.policy == "stop":
      last = ckpt.latest_step() if ckpt is not None else None
      kept = f"; the last good checkpoint is step {last}" if last is not None else ""
      raise TrainingDiverged("loss", f"became NaN or infinite ({self.total} step(s) up to step {step} "
                                     f"left the model unchanged){kept}. Lower the learning rate, or "
                                     f"pass on_nonfinite='skip' to carry on")


def _checkpointable(it):
  """The iterator if its position can be saved, else None (state alone is checkpointed)."""
  return it if hasattr(it, "get_state") and hasattr(it, "set_state") else None
