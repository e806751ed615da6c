"""Metric writers: JSON lines always, TensorBoard when a writer library is installed."""

from __future__ import annotations

import json
import os
import time

import jax
import numpy as np


def _scalar(v):
  v = np.asarray(jax.device_get(v))
  return v.item() if v.size == 1 else v.tolist()


class MetricWriter:
  """Appends `{"step", "time", **metrics}` lines to `<workdir>/metrics.jsonl` (process 0 only)."""

  def __init__(self, workdir: str | None, tensorboard: bool = True):
    self.path = None
    self._tb = None
    if workdir is None or jax.process_index() != 0:
      return
    os.makedirs(workdir, exist_ok=True)
    self.path = os.path.join(workdir, "metrics.jsonl")
    if tensorboard:
      self._tb = _tensorboard_writer(os.path.join(workdir, "tb"))

  def write(self, step: int, metrics: dict, prefix: str = "") -> dict:
    record = {f"{prefix}{k}": _scalar(v) for k, v in metrics.items()}
    if self.path:
      with open(self.path, "a") as f:
        f.write(json.dumps({"step": int(step), "time": time.time(), **record}) + "\n")
    if self._tb is not None:
      for k, v in record.items():
        if isinstance(v, (int, float)):
          self._tb.add_scalar(k, v, int(step))
      self._tb.flush()
    return record

  def close(self) -> None:
    if self._tb is not None:
      self._tb.close()


def _tensorboard_writer(logdir: str):
  """tensorboardX or torch's SummaryWriter if installed; else None (JSON lines only)."""
  try:
    from tensorboardX import SummaryWriter
  except ImportError:
    return None
  return SummaryWriter(logdir)


def read_metrics(workdir: str) -> list[dict]:
  """Reads back `<workdir>/metrics.jsonl`."""
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [json.loads(line) for line in f if line.strip()]
