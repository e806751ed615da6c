"""orbax checkpoints holding train state, data-iterator state and config, verified on restore.

A checkpoint is written atomically (orbax finalises a temporary folder), so a
run killed mid-save resumes from the last complete one. Each step also stores a
`meta` item: the config, a fingerprint of the state's tree (paths, shapes,
dtypes) and a CRC-32 per array. On restore:

* a run whose config or parameter shapes differ from the saved one is refused
  in one line (`InputError`), instead of silently returning the old model or
  failing deep in orbax;
* a step that cannot be read, whose checksums do not match, or that holds
  NaN / infinite values is moved aside to `checkpoints-corrupt/` with a warning,
  and the newest good step is restored instead;
* a state with non-finite values is never saved, so rotation (`max_to_keep`)
  can never push the last good step out for a diverged one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import time
import warnings
import zlib
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from jaxvis.errors import InputError
from jaxvis.train.state import TrainState

# Config fields that may change between a run and its resumption: how long to
# train and how often to log / save / evaluate do not change what is trained
# (nor do fields ending in `_steps` or `_every`).
RESUMABLE_FIELDS = frozenset({"num_steps", "steps", "checkpoint_every", "log_every", "eval_every",
                              "progress", "workdir"})


def config_to_json(config: Any) -> dict:
  """A frozen dataclass (or dict) as plain JSON data."""
  if config is None:
    return {}
  if dataclasses.is_dataclass(config):
    config = dataclasses.asdict(config)
  return jax.tree.map(lambda v: v if isinstance(v, (int, float, str, bool, type(None))) else str(v),
                      dict(config))


class CorruptCheckpointError(Exception):
  """A checkpoint step that cannot be trusted (unreadable, wrong checksum, non-finite)."""


def tree_fingerprint(tree: Any) -> str:
  """A short hash of a pytree's paths, shapes and dtypes (not its values)."""
  rows = [(jax.tree_util.keystr(path), np.shape(leaf),
           str(leaf.dtype if hasattr(leaf, "dtype") else np.asarray(leaf).dtype))
          for path, leaf in jax.tree_util.tree_leaves_with_path(tree)]
  return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16]


def array_checksums(tree: Any) -> dict[str, int]:
  """CRC-32 of each leaf's bytes, keyed by its tree path."""
  host = jax.device_get(tree)
  return {jax.tree_util.keystr(path): zlib.crc32(np.ascontiguousarray(leaf).tobytes())
          for path, leaf in jax.tree_util.tree_leaves_with_path(host)}


def nonfinite_leaves(tree: Any) -> list[str]:
  """Paths of floating leaves holding NaN or infinite values."""
  bad = []
  for path, leaf in jax.tree_util.tree_leaves_with_path(jax.device_get(tree)):
    leaf = np.asarray(leaf)
    if np.issubdtype(leaf.dtype, np.inexact) and not np.isfinite(leaf).all():
      bad.append(jax.tree_util.keystr(path))
  return bad


def _flatten(config: dict, prefix: str = "") -> dict:
  """Nested config -> {"a.b.c": leaf}, through a JSON round trip (tuples == lists)."""
  out = {}
  for key, value in json.loads(json.dumps(config)).items():
    if isinstance(value, dict) and value:
      out.update(_flatten(value, f"{prefix}{key}."))
    else:
      out[f"{prefix}{key}"] = value
  return out


def config_differences(saved: dict, current: dict, ignore=RESUMABLE_FIELDS) -> list[str]:
  """`field: saved vs now` for every (nested, dotted) field outside `ignore` that differs."""
  saved, current = _flatten(saved), _flatten(current)
  out = []
  for key in sorted(set(saved) | set(current)):
    leaf = key.rsplit(".", 1)[-1]
    if leaf in ignore or leaf.endswith(("_steps", "_every")):  # run length, logging cadence
      continue
    a, b = saved.get(key, "<absent>"), current.get(key, "<absent>")
    if a != b:
      out.append(f"{key}: {a!r} (saved) vs {b!r} (now)")
  return out


class Checkpointer:
  """Saves and restores (state, data-iterator state, config) under `workdir/checkpoints`."""

  def __init__(self, workdir: str, max_to_keep: int = 3):
    self.workdir = os.path.abspath(workdir)
    self.directory = os.path.join(self.workdir, "checkpoints")
    self._manager = ocp.CheckpointManager(
        self.directory, options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True))

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def all_steps(self) -> list[int]:
    return sorted(self._manager.all_steps())

  def save(self, step: int, state: TrainState, data_iter=None, config: Any = None,
           wait: bool = True) -> None:
    """Saves one step; refuses a state with NaN / infinite values (it would replace a good one)."""
    tree = state.checkpoint_tree()
    bad = nonfinite_leaves(tree)
    if bad:
      raise FloatingPointError(f"step {step}: not saving a state with non-finite values in "
                               f"{', '.join(bad[:3])}{' ...' if len(bad) > 3 else ''}")
    cfg = config_to_json(config)
    meta = {"format": 1, "config": cfg, "tree": tree_fingerprint(tree), "crc32": array_checksums(tree)}
    items = {"state": ocp.args.StandardSave(tree), "config": ocp.args.JsonSave(cfg),
             "meta": ocp.args.JsonSave(meta)}
    if data_iter is not None:
      items["data"] = ocp.args.JsonSave(data_iter.get_state())
    self._manager.save(int(step), args=ocp.args.Composite(**items))
    if wait:
      self._manager.wait_until_finished()

  def restore(self, state: TrainState, data_iter=None, step: int | None = None,
              config: Any = None) -> TrainState:
    """Restores the newest trustworthy step into `state`'s structure and shardings.

    Args:
      state: a template with the run's current structure (and shardings).
      data_iter: its position is restored too, when given.
      step: restore exactly this step (no fallback) instead of the newest good one.
      config: the current run's config; a checkpoint saved with a different one
        (outside `RESUMABLE_FIELDS`) is refused.

    Raises:
      InputError: no checkpoint, none readable, or a config / shape mismatch.
    """
    steps = [step] if step is not None else sorted(self._manager.all_steps(), reverse=True)
    if not steps:
      raise InputError("workdir", f"no checkpoint under {self.directory}")
    template = state.checkpoint_tree()
    current_cfg = None if config is None else config_to_json(config)
    failures = []
    for s in steps:
      try:
        restored = self._restore_step(s, template, data_iter is not None, current_cfg)
      except CorruptCheckpointError as e:
        failures.append(f"step {s}: {e}")
        if step is not None:
          raise InputError(self._step_dir(s), f"checkpoint cannot be trusted: {e}") from None
        moved = self._quarantine(s)
        warnings.warn(f"checkpoint step {s} in {self.directory} cannot be trusted ({e}); moved to "
                      f"{moved}; falling back to an earlier step", stacklevel=2)
        continue
      if failures:
        warnings.warn(f"resuming from step {s}, the newest good checkpoint", stacklevel=2)
      if data_iter is not None:
        data_iter.set_state(restored["data"])
      return state.from_checkpoint_tree(restored["state"])
    raise InputError("workdir", f"no readable checkpoint under {self.directory} "
                                f"({'; '.join(failures)}); start again with a new --workdir")

  def _step_dir(self, step: int) -> str:
    return os.path.join(self.directory, str(step))

  def _restore_step(self, step: int, template: dict, with_data: bool, current_cfg: dict | None) -> dict:
    meta = None
    if os.path.isdir(os.path.join(self._step_dir(step), "meta")):
      try:
        meta = self._manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
      except Exception as e:  # orbax / tensorstore / JSON errors all mean "unreadable"
        raise CorruptCheckpointError(f"metadata unreadable: {type(e).__name__}: {_short(e)}") from None
      self._check_compatible(step, meta, template, current_cfg)
    target = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
    items = {"state": ocp.args.StandardRestore(target)}
    if with_data:
      items["data"] = ocp.args.JsonRestore()
    try:
      restored = self._manager.restore(step, args=ocp.args.Composite(**items))
    except Exception as e:
      raise CorruptCheckpointError(f"unreadable: {type(e).__name__}: {_short(e)}") from None
    if meta is not None:
      sums = array_checksums(restored["state"])
      wrong = [k for k, v in meta["crc32"].items() if sums.get(k) != v]
      if wrong:
        raise CorruptCheckpointError(f"checksum mismatch in {len(wrong)} array(s), e.g. {wrong[0]}")
    bad = nonfinite_leaves(restored["state"])
    if bad:
      raise CorruptCheckpointError(f"non-finite values in {bad[0]}")
    return restored

  def _check_compatible(self, step: int, meta: dict, template: dict, current_cfg: dict | None) -> None:
    if current_cfg is not None:
      diffs = config_differences(meta.get("config", {}), current_cfg)
      if diffs:
        raise InputError("workdir", f"{self.workdir} holds a run with a different configuration "
                                    f"({'; '.join(diffs[:4])}{' ...' if len(diffs) > 4 else ''}); "
                                    f"resume with the same settings or use a new --workdir")
    if meta.get("tree") != tree_fingerprint(template):
      raise InputError("workdir", f"{self.workdir} (step {step}) holds parameters of other shapes than "
                                  f"this model's; use a new --workdir")

  def _quarantine(self, step: int) -> str:
    """Moves a bad step out of orbax's sight, so later saves and restores ignore it."""
    dest = os.path.join(self.workdir, "checkpoints-corrupt", f"{step}-{int(time.time())}")
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    shutil.move(self._step_dir(step), dest)
    self._manager.reload()  # re-reads the step list from disk
    return dest

  def restore_config(self, step: int | None = None) -> dict:
    step = self.latest_step() if step is None else step
    return self._manager.restore(step, args=ocp.args.Composite(config=ocp.args.JsonRestore()))["config"]

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()


def _short(e: Exception, limit: int = 200) -> str:
  text = " ".join(str(e).split())
  return text if len(text) <= limit else text[:limit] + "..."
