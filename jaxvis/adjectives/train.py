"""Training of the (pair-wise) stacked CAE: greedy layer-wise, then fine-tuning.

Every stage is a run of `jaxvis.train.fit` (sharded jitted step, orbax
checkpoints under `workdir/<stage>`, resumable). In greedy stage k only the
parameters of encoding/decoding process k move (the others get zero updates);
fine-tuning moves all of them with the weighted sum of the level losses.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxvis import data, train
from jaxvis.adjectives import features, objective
from jaxvis.adjectives.model import StackedCAE, check_image_size
from jaxvis.errors import InputError
from jaxvis.nn.variables import init_variables


@dataclasses.dataclass(frozen=True)
class SCAEConfig:
  """Model and training settings (defaults: the paper's Table 2 network)."""
  features: tuple[int, ...] = (20, 20)     # feature maps per encoding process
  kernel_size: int = 5                     # conv / deconv kernel side
  pool: int = 2                            # max-pool and up-sampling factor
  activation: str = "sigmoid"              # encoder / inner decoder activation
  image_activation: str = "sigmoid"        # last decoding process (images in [0, 1])
  tied: bool = True                        # decoder = flipped encoder kernel (Masci et al.)
  objective: str = "pairwise"              # "pairwise" (the paper) or "plain" (baseline)
  level_weights: tuple[float, ...] | None = None   # w^k for fine-tuning; None = all 1
  noise: str = "none"                      # denoising option: "none", "mask", "gaussian"
  noise_level: float = 0.0                 # masked fraction or Gaussian std
  batch_size: int = 16                     # pairs (or images) per step, global
  learning_rate: float = 1e-3              # Adam
  greedy_steps: int = 300                  # steps per level of greedy training
  finetune_steps: int = 300                # steps of whole-stack fine-tuning
  seed: int = 0
  dtype: str = "float32"                   # compute dtype: "float32" or "bfloat16"

  @classmethod
  def tiny(cls, **overrides) -> "SCAEConfig":
    """Small network and few steps for tests (28x28 inputs work)."""
    base = dict(features=(4, 4), batch_size=8, greedy_steps=10, finetune_steps=10)
    base.update(overrides)
    return cls(**base)

  def model(self) -> StackedCAE:
    return StackedCAE(features=tuple(self.features), kernel_size=self.kernel_size,
                      pool=self.pool, activation=self.activation,
                      image_activation=self.image_activation, tied=self.tied,
                      dtype=jnp.dtype(self.dtype))

  def validate(self) -> None:
    if self.objective not in objective.OBJECTIVES:
      raise InputError("objective", f"expected one of {objective.OBJECTIVES}, got {self.objective!r}")
    if self.noise not in objective.NOISES:
      raise InputError("noise", f"expected one of {objective.NOISES}, got {self.noise!r}")
    if self.dtype not in ("float32", "bfloat16"):
      raise InputError("dtype", f"expected 'float32' or 'bfloat16', got {self.dtype!r}")
    for name in ("batch_size", "kernel_size", "pool"):
      if getattr(self, name) < 1:
        raise ValueError(f"{name}: expected >= 1, got {getattr(self, name)}")
    if self.greedy_steps < 0 or self.finetune_steps < 0:
      raise InputError("greedy_steps, finetune_steps", "expected >= 0")
    objective.level_weights_for(len(self.features), self.level_weights, None)


def init_params(config: SCAEConfig, image_shape: Sequence[int]):
  """Float32 parameters of `config.model()` for (H, W, C) images."""
  model = config.model()
  x = jnp.zeros((1,) + tuple(image_shape), jnp.float32)
  return init_variables(model, jax.random.key(config.seed), x)["params"]


def make_loss_fn(config: SCAEConfig, stage: int | None):
  """`loss_fn(params, model_state, batch, rng)` in the form `jaxvis.train` expects."""
  model = config.model()
  kwargs = dict(stage=stage, level_weights=config.level_weights, noise=config.noise,
                noise_level=config.noise_level)

  def loss_fn(params, model_state, batch, rng):
    if config.objective == "pairwise":
      loss, metrics = objective.pairwise_loss(model, params, batch["a"], batch["b"], rng,
                                              **kwargs)
    else:
      loss, metrics = objective.plain_loss(model, params, batch["image"], rng, **kwargs)
    return loss, (model_state, metrics)

  return loss_fn


def stage_optimizer(config: SCAEConfig, params, stage: int | None):
  """Adam on the stage's level; zero updates for the other levels."""
  adam = optax.adam(config.learning_rate)
  if stage is None:
    return adam
  mine = {f"encoder{stage}", f"decoder{stage}"}
  labels = {name: jax.tree.map(lambda _: "train" if name in mine else "freeze", sub)
            for name, sub in params.items()}
  return optax.multi_transform({"train": adam, "freeze": optax.set_to_zero()}, labels)


def _check_training_data(config: SCAEConfig, arrays: dict) -> tuple[int, ...]:
  keys = ("a", "b") if config.objective == "pairwise" else ("image",)
  for k in keys:
    if k not in arrays:
      raise InputError("arrays", f"the {config.objective!r} objective needs key {k!r}, "
                       f"got keys {sorted(arrays)}")
    x = arrays[k]
    if x.ndim != 4:
      raise ValueError(f"arrays[{k!r}]: expected (N, H, W, C) images, got shape {x.shape}")
    if x.shape[0] < config.batch_size:
      raise ValueError(f"arrays[{k!r}]: {x.shape[0]} items are fewer than "
                       f"batch_size={config.batch_size}")
    if x.dtype != np.float32 or x.min() < 0 or x.max() > 1:
      raise ValueError(f"arrays[{k!r}]: expected float32 values in [0, 1]")
  shape = arrays[keys[0]].shape[1:]
  if any(arrays[k].shape[1:] != shape for k in keys):
    raise InputError("arrays", "'a' and 'b' must hold images of the same shape")
  check_image_size(config.model(), shape[0], shape[1])
  return shape


def train_scae(config: SCAEConfig, arrays: dict[str, np.ndarray], *, workdir: str | None = None,
               mesh=None, progress: bool = False, params=None):
  """Greedy layer-wise training of each level, then fine-tuning of the whole stack.

  Args:
    config: model and schedule.
    arrays: {"a": (M,H,W,C), "b": (M,H,W,C)} pairs for the pair-wise objective,
      {"image": (N,H,W,C)} for the plain one; float32 in [0, 1].
    workdir: checkpoints and metrics go to `workdir/level<k>` and `workdir/finetune`;
      an interrupted run resumes from them.
    mesh: a `data` mesh (default: all devices).
    progress: show progress bars.
    params: start from these parameters instead of a fresh initialisation.

  Returns:
    The trained parameters.
  """
  config.validate()
  arrays = {k: np.asarray(v) for k, v in arrays.items()}
  shape = _check_training_data(config, arrays)
  mesh = train.make_mesh() if mesh is None else mesh
  # Host copies: the jitted step donates its state, which must not delete the caller's arrays.
  params = jax.tree.map(np.array, init_params(config, shape) if params is None else params)
  keys = ("a", "b") if config.objective == "pairwise" else ("image",)
  source = data.ArraySource({k: arrays[k] for k in keys})
  stages = [(k, config.greedy_steps) for k in range(1, len(config.features) + 1)]
  stages.append((None, config.finetune_steps))
  rng = jax.random.key(config.seed)
  for stage, steps in stages:
    if steps == 0:
      continue
    name = "finetune" if stage is None else f"level{stage}"
    state = train.TrainState.create(params, stage_optimizer(config, params, stage))
    step_fn = train.make_train_step(make_loss_fn(config, stage), mesh)
    it = data.loader(source, config.batch_size, seed=config.seed + (stage or 0))
    state = train.fit(state, step_fn, it, num_steps=steps, rng=jax.random.fold_in(rng, stage or 0),
                      mesh=mesh, workdir=None if workdir is None else os.path.join(workdir, name),
                      config=config, checkpoint_every=max(steps // 2, 1) if workdir else 0,
                      log_every=max(steps // 10, 1), progress=progress,
                      desc=f"{config.objective} {name}")
    params = jax.device_get(state.params)
  return params


def encode(config: SCAEConfig, params, images: np.ndarray, *, batch_size: int = 64,
           grid: int | None = 2, levels: str = "all",
           pooling: str | Sequence[str] = "mean") -> np.ndarray:
  """Codes of `images`, pooled to `grid` x `grid` cells and flattened.

  Args:
    levels: "top" (the top-level code, as the paper says), "bottom" (level 1's
      code) or "all" (every encoding process's code, concatenated: the lower
      level keeps colour and fine texture that the top one pools away).
    grid: cells per side; None keeps the whole code maps (Table 2: 22*22*20 at the top).
    pooling: statistic(s) per cell (`features.POOLINGS`), concatenated.
  """
  images = np.asarray(images, np.float32)
  if images.ndim != 4:
    raise InputError("images", f"expected (N, H, W, C), got shape {images.shape}")
  check_levels(levels)
  features.check_grid_pooling(grid, pooling)
  check_image_size(config.model(), images.shape[1], images.shape[2])
  fn = make_encoder_fn(config.model(), grid, levels, pooling)
  out = [np.asarray(fn(params, images[i:i + batch_size]))
         for i in range(0, len(images), batch_size)]
  return np.concatenate(out, 0) if out else np.zeros((0, 0), np.float32)


LEVELS = ("top", "bottom", "all")


def check_levels(levels: str) -> None:
  if levels not in LEVELS:
    raise InputError("levels", f"expected one of {LEVELS}, got {levels!r}")


def make_encoder_fn(model: StackedCAE, grid: int | None, levels: str = "top",
                    pooling: str | Sequence[str] = "mean"):
  """Jitted `fn(params, images) -> (N, D)` pooled features (see `encode`)."""
  check_levels(levels)
  stats = features.check_grid_pooling(grid, pooling)

  @jax.jit
  def fn(params, x):
    codes = model.apply({"params": params}, x, method=StackedCAE.encode)[1:]
    codes = {"top": codes[-1:], "bottom": codes[:1], "all": codes}[levels]
    return features.pooled_features(codes, grid, stats)
  return fn
