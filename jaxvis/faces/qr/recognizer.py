"""The recognition stage: a small DenseNet that verifies a rectified crop is a QR code.

Input: the rectified grayscale crop (`rectify.rectify` + `to_gray`, 0..255, the
code plus its margin) resized to 32x32 and normalised as the cascade's inputs. Output: two
logits (not a code / a code). Trained through `jaxvis.train` (BatchNorm
statistics in the state's `model_state`) on rectified true detections and
jittered true corners (positives) against rectified false detections and
random quadrilaterals on the backgrounds (negatives).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxvis import data, train
from jaxvis.nn import densenet
from jaxvis.nn.variables import init_variables
from jaxvis.ops import image as image_ops

INPUT_SIZE = 32


def model(dtype=jnp.float32) -> densenet.DenseNet:
  return densenet.DenseNetSmall(num_classes=2, dtype=dtype)


def prepare(crops: jax.Array) -> jax.Array:
  """(N, S, S) grayscale rectified crops in 0..255 -> (N, 32, 32, 1) network input."""
  if crops.ndim != 3 or crops.shape[1] != crops.shape[2]:
    raise ValueError(f"crops: expected (N, S, S) grayscale square crops, got shape {crops.shape}")
  small = image_ops.resize(crops.astype(jnp.float32)[..., None], (INPUT_SIZE, INPUT_SIZE), antialias=True)
  return (small - 127.5) / 128.0


def init(seed: int = 0):
  return init_variables(model(), jax.random.key(seed), jnp.zeros((1, INPUT_SIZE, INPUT_SIZE, 1)))


def probability(variables, crops: jax.Array, dtype=jnp.float32) -> jax.Array:
  """P(code) of (N, S, S) grayscale rectified crops (pure, jittable)."""
  logits = model(dtype).apply(variables, prepare(crops))
  return jax.nn.softmax(logits, -1)[:, 1]


@dataclasses.dataclass(frozen=True)
class VerifierConfig:
  """Attributes: steps, batch_size, learning_rate, seed (init, shuffling)."""
  steps: int = 600
  batch_size: int = 64
  learning_rate: float = 2e-3
  seed: int = 0


def _loss_fn(params, model_state, batch, rng):
  del rng
  logits, upd = model().apply({"params": params, **model_state}, batch["image"], train=True,
                              mutable=["batch_stats"])
  loss = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]))
  acc = jnp.mean((jnp.argmax(logits, -1) == batch["label"]).astype(jnp.float32))
  return loss, (dict(upd), {"loss": loss, "acc": acc})


@functools.lru_cache(maxsize=4)
def _step(mesh):
  return train.make_train_step(_loss_fn, mesh)


@functools.lru_cache(maxsize=4)
def _optimizer(learning_rate: float):
  return optax.adam(learning_rate)


def train_verifier(cfg: VerifierConfig, inputs: np.ndarray, labels: np.ndarray, workdir: str | None = None):
  """Trains the DenseNet on prepared inputs (N, 32, 32, 1) and labels (N,) in {0, 1}.

  Returns:
    variables {"params", "batch_stats"} (host numpy).
  """
  if inputs.ndim != 4 or inputs.shape[1:] != (INPUT_SIZE, INPUT_SIZE, 1):
    raise ValueError(f"inputs: expected (N, {INPUT_SIZE}, {INPUT_SIZE}, 1), got {inputs.shape}")
  if len(labels) != len(inputs) or not set(np.unique(labels)) <= {0, 1}:
    raise ValueError("labels: expected one 0/1 label per input")
  mesh = train.make_mesh()
  variables = init(cfg.seed)
  state = train.TrainState.create(params=variables["params"], tx=_optimizer(cfg.learning_rate),
                                  model_state={"batch_stats": variables["batch_stats"]})
  it = data.loader(data.ArraySource({"image": inputs.astype(np.float32), "label": labels.astype(np.int32)}),
                   batch_size=cfg.batch_size, seed=cfg.seed)
  state = train.fit(state, _step(mesh), it, num_steps=cfg.steps, rng=jax.random.key(cfg.seed), mesh=mesh,
                    workdir=workdir, config=cfg, checkpoint_every=max(cfg.steps // 2, 1))
  return jax.device_get({"params": state.params, **state.model_state})
