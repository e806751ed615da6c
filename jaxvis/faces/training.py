"""Training the MTCNN stages (and L-Net) through the foundation's fit loop.

`train_stage(config, arrays)` trains one network from scratch (or from given
parameters) on mined samples (`mining.Samples.as_arrays()`, or for L-Net
`{"patches", "target"}`) with `jaxvis.train`: sharded jitted steps over the
`data` mesh, orbax checkpoints in `workdir`, exact resumption of a killed run.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxvis import data, train
from jaxvis.faces import cascade, losses, nets
from jaxvis.errors import InputError
from jaxvis.nn.variables import init_variables

STAGES = ("pnet", "rnet", "onet", "lnet")
LR_SCHEDULES = ("piecewise", "cosine", "constant")
# AITTSMD/MTCNN-Tensorflow config.LR_EPOCH = [6, 14, 20] with end_epoch 22 and lr_factor 0.1.
_PIECEWISE_FRACTIONS = (6 / 22, 14 / 22, 20 / 22)
INPUT_SHAPES = {"pnet": (12, 12, 3), "rnet": (24, 24, 3), "onet": (48, 48, 3), "lnet": (5, 24, 24, 3)}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """Settings of one stage's training run (saved with each checkpoint).

  Attributes:
    stage: "pnet", "rnet", "onet" or "lnet".
    steps: optimizer steps.
    batch_size: global batch size (must divide over the devices).
    learning_rate: Adam's initial step size.
    lr_schedule: "piecewise" (default; the authors' TF port: x0.1 at epochs 6, 14
      and 20 of 22, here at those fractions of `steps`), "cosine" (to 0 at
      `steps`) or "constant". The schedule follows the `steps` of the run that
      created the optimizer state; a resume with more steps keeps its count.
    ohem_ratio: kept fraction of face/non-face losses (paper: 0.7).
    seed: parameter init, shuffling.
    dtype: compute dtype, "float32" or "bfloat16" (parameters stay float32).
    num_landmarks: O-Net points (5 face landmarks; 4 QR-code corners).
    cyclic_landmarks: landmark loss up to a cyclic shift of the points (QR corners).
  """
  stage: str = "pnet"
  steps: int = 1000
  batch_size: int = 64
  learning_rate: float = 1e-3
  lr_schedule: str = "piecewise"
  ohem_ratio: float = 0.7
  seed: int = 0
  dtype: str = "float32"
  num_landmarks: int = 5
  cyclic_landmarks: bool = False

  def __post_init__(self):
    if self.stage not in STAGES:
      raise InputError("stage", f"expected one of {STAGES}, got {self.stage!r}")
    if self.steps < 0 or self.batch_size < 1:
      raise InputError("steps, batch_size", f"expected >= 0 and >= 1, got {self.steps}, {self.batch_size}")
    if self.lr_schedule not in LR_SCHEDULES:
      raise InputError("lr_schedule", f"expected one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
    if self.dtype not in ("float32", "bfloat16"):
      raise InputError("dtype", f"expected 'float32' or 'bfloat16', got {self.dtype!r}")


def network(stage: str, dtype: Any = jnp.float32, num_landmarks: int = 5):
  if stage == "onet":
    return nets.ONet(dtype, num_landmarks)
  return {"pnet": nets.PNet, "rnet": nets.RNet, "lnet": nets.LNet}[stage](dtype)


def init_params(stage: str, seed: int = 0, num_landmarks: int = 5):
  x = jnp.zeros((1,) + INPUT_SHAPES[stage], jnp.float32)
  return init_variables(network(stage, num_landmarks=num_landmarks), jax.random.key(seed), x)["params"]


def apply_stage(stage: str, params, images, dtype: Any = jnp.float32):
  """Network outputs on uint8-range crops, flattened to (N, ...) (P-Net's 1x1 map squeezed)."""
  num_landmarks = params["fc6_2"]["bias"].shape[0] // 2 if stage == "onet" else 5
  out = network(stage, dtype, num_landmarks).apply({"params": params}, cascade.normalize(images))
  if stage == "pnet":
    out = tuple(o.reshape(o.shape[0], -1) for o in out)
  return out


def make_loss_fn(cfg: TrainConfig):
  """`loss_fn(params, model_state, batch, rng)` for `jaxvis.train.make_train_step`."""
  dtype = jnp.dtype(cfg.dtype)

  def loss_fn(params, model_state, batch, rng):
    del rng
    if cfg.stage == "lnet":
      pred = apply_stage("lnet", params, batch["patches"], dtype)
      loss = losses.lnet_loss(pred, batch["target"])
      return loss, (model_state, {"loss": loss})
    outputs = apply_stage(cfg.stage, params, batch["image"], dtype)
    loss, metrics = losses.multitask_loss(cfg.stage, outputs, batch, cfg.ohem_ratio,
                                          cyclic_landmarks=cfg.cyclic_landmarks)
    return loss, (model_state, dict(metrics, loss=loss))

  return loss_fn


@functools.lru_cache(maxsize=16)
def _compiled_step(stage: str, ohem_ratio: float, dtype: str, mesh, cyclic_landmarks: bool = False):
  """One jitted step per (stage, loss settings, mesh): resumed or repeated runs in a
  process reuse its compilation (the optimizer is a static part of the state, see `_optimizer`)."""
  cfg = TrainConfig(stage=stage, ohem_ratio=ohem_ratio, dtype=dtype, cyclic_landmarks=cyclic_landmarks)
  return train.make_train_step(make_loss_fn(cfg), mesh)


def learning_rate_schedule(learning_rate: float, schedule: str = "piecewise", steps: int = 1000):
  """The step size as a function of the optimizer step (`TrainConfig.lr_schedule`)."""
  if schedule == "constant":
    return optax.constant_schedule(learning_rate)
  if schedule == "cosine":
    return optax.cosine_decay_schedule(learning_rate, max(int(steps), 1))
  if schedule == "piecewise":
    bounds = {max(1, int(round(f * steps))): 0.1 for f in _PIECEWISE_FRACTIONS}
    return optax.piecewise_constant_schedule(learning_rate, bounds)
  raise InputError("lr_schedule", f"expected one of {LR_SCHEDULES}, got {schedule!r}")


@functools.lru_cache(maxsize=16)
def _optimizer(learning_rate: float, schedule: str = "constant", steps: int = 1000):
  return optax.adam(learning_rate_schedule(learning_rate, schedule, steps))


def _check_arrays(stage: str, arrays: dict) -> None:
  keys = ("patches", "target") if stage == "lnet" else ("image", "label", "box", "landmark")
  missing = [k for k in keys if k not in arrays]
  if missing:
    raise InputError("arrays", f"{stage} training needs keys {keys}, missing {missing}")
  first = arrays[keys[0]]
  if tuple(first.shape[1:]) != INPUT_SHAPES[stage]:
    raise InputError("arrays", f"{keys[0]!r} expected (N, {', '.join(map(str, INPUT_SHAPES[stage]))}) "
                     f"for {stage}, got {first.shape}")
  if len(first) == 0:
    raise InputError("arrays", f"no {stage} samples")


def evaluate_samples(stage: str, params, arrays: dict, batch_size: int = 256,
                     cyclic_landmarks: bool = False) -> dict:
  """Held-out metrics: face accuracy (+ box/landmark L2) or, for L-Net, the loss."""
  key = "patches" if stage == "lnet" else "image"
  fn = jax.jit(lambda p, x: apply_stage(stage, p, x))
  outs = [fn(params, arrays[key][i:i + batch_size]) for i in range(0, len(arrays[key]), batch_size)]
  if stage == "lnet":
    pred = jnp.concatenate(outs)
    return {"loss": float(losses.lnet_loss(pred, jnp.asarray(arrays["target"])))}
  outputs = tuple(jnp.concatenate([o[j] for o in outs]) for j in range(len(outs[0])))
  batch = {k: jnp.asarray(arrays[k]) for k in ("label", "box", "landmark")}
  _, m = losses.multitask_loss(stage, outputs, batch, ohem_ratio=1.0, cyclic_landmarks=cyclic_landmarks)
  return {k: float(v) for k, v in m.items()}


def train_stage(cfg: TrainConfig, arrays: dict | None = None, workdir: str | None = None, params=None,
                eval_arrays: dict | None = None, eval_every: int = 0, checkpoint_every: int = 0,
                progress: bool = False, batches=None):
  """Trains one stage; returns its parameters (host numpy).

  Args:
    cfg: `TrainConfig`.
    arrays: training samples in memory (see module doc), or
    batches: an iterator of batches of the same keys (`sample_stream.sample_stream`,
      streamed from the annotation files; its state is checkpointed when it has one).
    workdir: checkpoints + metrics.jsonl; a run with a checkpoint there resumes.
    params: initial parameters (default: fresh init from cfg.seed).
    eval_arrays: held-out samples for `evaluate_samples` (logged as eval_*).
  """
  if (arrays is None) == (batches is None):
    raise InputError("arrays/batches", "give exactly one: samples in memory or a batch iterator")
  if arrays is not None:
    _check_arrays(cfg.stage, arrays)
  if arrays is not None and cfg.stage == "onet" and arrays["landmark"].shape[1] != 2 * cfg.num_landmarks:
    raise InputError("arrays", f"'landmark' expected (N, {2 * cfg.num_landmarks}) for num_landmarks="
                     f"{cfg.num_landmarks}, got {arrays['landmark'].shape}")
  if eval_arrays is not None:
    _check_arrays(cfg.stage, eval_arrays)
  mesh = train.make_mesh()
  params = init_params(cfg.stage, cfg.seed, cfg.num_landmarks) if params is None else params
  state = train.TrainState.create(params=params, tx=_optimizer(cfg.learning_rate, cfg.lr_schedule, cfg.steps))
  step = _compiled_step(cfg.stage, cfg.ohem_ratio, cfg.dtype, mesh, cfg.cyclic_landmarks)
  it = batches if batches is not None else data.loader(data.ArraySource(arrays), batch_size=cfg.batch_size,
                                                        seed=cfg.seed)
  eval_fn = None
  if eval_arrays is not None:
    eval_fn = lambda s: evaluate_samples(cfg.stage, s.params, eval_arrays,
                                         cyclic_landmarks=cfg.cyclic_landmarks)
  state = train.fit(state, step, it, num_steps=cfg.steps, rng=jax.random.key(cfg.seed), mesh=mesh,
                    workdir=workdir, config=cfg, checkpoint_every=checkpoint_every,
                    eval_fn=eval_fn, eval_every=eval_every, progress=progress)
  return jax.device_get(state.params)


def save_params(path: str, params) -> None:
  """Parameters as msgpack (flax.serialization: arrays only, nothing executable)."""
  from flax import serialization
  with open(path, "wb") as f:
    f.write(serialization.msgpack_serialize(jax.tree_util.tree_map(np.asarray, params)))


def load_params(path: str):
  """A stage's weights written by `faces train` (InputError naming the file if unreadable)."""
  from jaxvis.data.files import read_msgpack
  return read_msgpack(path)
