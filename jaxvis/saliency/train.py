"""Training the masking model (and the small black-box classifiers) on the foundation's fit loop.

The black box's variables travel in `TrainState.model_state["black_box"]` rather than being
closed over, so a ResNet-50 black box is an argument of the compiled step, not a 100 MB
constant baked into it, and checkpoints hold everything a resumed run needs.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxvis import data as data_lib
from jaxvis import train as train_lib
from jaxvis.saliency import model as model_lib
from jaxvis.saliency import objective as obj_lib
from jaxvis.saliency.explainer import MaskingParams
from jaxvis.errors import InputError
from jaxvis.nn.variables import init_variables

ApplyFn = Callable[[Any, jax.Array], jax.Array]  # (variables, images) -> logits


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """One masking-model training run.

  Attributes:
    masking: the masking model's architecture.
    objective: the objective (form, weights, evidence removal, fake-selector probability).
    image_size: (H, W) of the training images.
    batch_size: global batch size.
    num_steps: optimizer steps.
    learning_rate: Adam learning rate (cosine-decayed to 10% over the run).
    embedding_warmup_steps: authors' first phase: train only the class embedding for this many steps.
    seed: run seed (init, data order, evidence removal, fake selectors).
    dtype: compute dtype of the masking model ("float32" / "bfloat16").
  """
  masking: model_lib.MaskingConfig
  objective: obj_lib.ObjectiveConfig = obj_lib.ObjectiveConfig()
  image_size: tuple[int, int] = (224, 224)
  batch_size: int = 32
  num_steps: int = 1000
  learning_rate: float = 1e-3
  embedding_warmup_steps: int = 0
  seed: int = 0
  dtype: str = "float32"

  def __post_init__(self):
    for name in ("batch_size", "num_steps"):
      if getattr(self, name) < 1:
        raise ValueError(f"{name}: expected >= 1, got {getattr(self, name)}")
    if self.learning_rate <= 0:
      raise InputError("learning_rate", f"expected > 0, got {self.learning_rate}")


def _labels(params, fn) -> Any:
  return jax.tree_util.tree_map_with_path(lambda path, _: fn(jax.tree_util.keystr(path)), params)


def only_embedding_during_warmup(steps: int) -> optax.GradientTransformation:
  """Zeroes every update except the class embedding's for the first `steps` updates."""

  def init(params):
    del params
    return {"count": jnp.zeros((), jnp.int32)}

  def update(updates, state, params=None):
    del params
    warm = state["count"] < steps
    is_emb = _labels(updates, lambda k: "class_embedding" in k)
    updates = jax.tree.map(lambda u, e: u if e else jnp.where(warm, jnp.zeros_like(u), u), updates, is_emb)
    return updates, {"count": state["count"] + 1}

  return optax.GradientTransformation(init, update)


def make_optimizer(cfg: TrainConfig, params) -> optax.GradientTransformation:
  """Adam with cosine decay; a pretrained encoder (ResNet, SmallCNN) is frozen (zero updates, no Adam state)."""
  schedule = optax.cosine_decay_schedule(cfg.learning_rate, cfg.num_steps, alpha=0.1)
  adam = optax.adam(schedule)
  if cfg.embedding_warmup_steps > 0:
    adam = optax.chain(only_embedding_during_warmup(cfg.embedding_warmup_steps), adam)
  frozen = cfg.masking.frozen_encoder
  labels = _labels(params, lambda k: "frozen" if frozen and k.startswith("['encoder']") else "train")
  return optax.multi_transform({"train": adam, "frozen": optax.set_to_zero()}, labels)


def _merge(old: dict, new: dict) -> dict:
  out = dict(old)
  for k, v in new.items():
    out[k] = _merge(old[k], v) if isinstance(v, dict) and isinstance(old.get(k), dict) else v
  return out


def make_loss_fn(cfg: TrainConfig, black_box_apply: ApplyFn, features_fn: Callable | None = None) -> Callable:
  """`loss_fn(params, model_state, batch, rng)` for `jaxvis.train.make_train_step`;
  `features_fn(images) -> {"stride<s>": map}` for an "external" encoder."""
  module = model_lib.build(cfg.masking, cfg.dtype)

  def loss_fn(params, model_state, batch, rng):
    k_sel, k_obj = jax.random.split(rng)
    images, labels = batch["image"], batch["label"].astype(jnp.int32)
    class_ids, is_real = obj_lib.draw_selectors(k_sel, labels, cfg.masking.num_classes,
                                                cfg.objective.fake_prob)
    variables = {"params": params, **model_state["masking"]}
    feats = None if features_fn is None else features_fn(images)
    (masks, aux), mutated = module.apply(variables, images, class_ids, train=True, features=feats,
                                         mutable=["batch_stats"])
    black_box = lambda x: black_box_apply(model_state["black_box"], x)
    loss, metrics = obj_lib.saliency_objective(k_obj, black_box, images, masks, class_ids, is_real,
                                               cfg.objective, aux["selector_act"])
    new_state = {"masking": _merge(model_state["masking"], dict(mutated)),
                 "black_box": model_state["black_box"]}
    return loss, (new_state, metrics)

  return loss_fn


def create_state(cfg: TrainConfig, black_box_variables, encoder_variables: dict | None = None,
                 features_fn: Callable | None = None) -> train_lib.TrainState:
  """Initial train state; `encoder_variables` (e.g. pretrained ResNet-50 `{"params", "batch_stats"}`)
  replace the encoder's random init."""
  example = None
  if features_fn is not None:
    example = features_fn(jnp.zeros((1, *cfg.image_size, cfg.masking.in_channels), jnp.float32))
  variables = model_lib.init(cfg.masking, jax.random.key(cfg.seed), cfg.image_size, example)
  # The train step donates its state: own copies keep the caller's arrays alive.
  copy = lambda tree: jax.tree.map(lambda a: jnp.array(a, copy=True), tree)
  black_box_variables = copy(black_box_variables)
  if encoder_variables is not None:
    variables = set_encoder_variables(variables, copy(encoder_variables))
  params = variables["params"]
  masking_state = {k: v for k, v in variables.items() if k != "params"}
  return train_lib.TrainState.create(params=params, tx=make_optimizer(cfg, params),
                                     model_state={"masking": masking_state,
                                                  "black_box": black_box_variables})


def set_encoder_variables(variables: dict, encoder_variables: dict) -> dict:
  """Puts a ResNet's or SmallCNN's `{"params"[, "batch_stats"]}` in the masking model's encoder slot
  (shapes checked; a classifier head is dropped)."""
  out = dict(variables)
  for col in ("params", "batch_stats"):
    if col not in encoder_variables:
      continue
    want = jax.tree.map(jnp.shape, out[col]["encoder"])
    got = jax.tree.map(jnp.shape, {k: v for k, v in encoder_variables[col].items() if k != "head"})
    if want != got:
      raise InputError("encoder_variables", f"{col} do not match the masking model's encoder "
                       f"(expected a ResNet with the same depth/width as {list(want)[:3]}...)")
    out[col] = {**out[col], "encoder": {k: v for k, v in encoder_variables[col].items() if k != "head"}}
  return out


def params_from_state(cfg: TrainConfig, state: train_lib.TrainState) -> MaskingParams:
  variables = {"params": jax.device_get(state.params), **jax.device_get(state.model_state["masking"])}
  return MaskingParams(variables=variables, config=cfg.masking)


def train_masking_model(cfg: TrainConfig, images: np.ndarray, labels: np.ndarray,
                        black_box_apply: ApplyFn, black_box_variables, *,
                        workdir: str | None = None, encoder_variables: dict | None = None,
                        checkpoint_every: int = 200, progress: bool = True, mesh=None,
                        eval_fn: Callable | None = None, eval_every: int = 0,
                        stop_after: int | None = None, features_fn: Callable | None = None,
                        source=None, map_fn: Callable | None = None, worker_count: int = 0) -> MaskingParams:
  """Trains a masking model against a frozen black box; resumes from `workdir` if it holds a checkpoint.

  Args:
    cfg: the run.
    images: (N, H, W, C) float32 images, preprocessed as the black box expects (or None with `source`).
    labels: (N,) int ground-truth classes (the only supervision: no boxes, no masks).
    source: instead of images/labels, a random-access source of `{"image", "label"}` records
      (e.g. `imagenet.TrainSource`, decoded on access: memory independent of the dataset size);
      `map_fn` (record -> record, e.g. preprocessing) runs per record in the grain pipeline.
    worker_count: decode (and map, batch) in this many grain worker processes (0: in this one);
      the source and map_fn must pickle and not run JAX. The batches do not depend on it, but
      resuming a checkpoint needs the worker count it was written with.
    black_box_apply: `(variables, images) -> logits`.
    black_box_variables: its (frozen) variables.
    workdir: checkpoints + metrics.jsonl; None keeps nothing.
    encoder_variables: pretrained encoder variables for the ResNet / SmallCNN encoders.
    features_fn: `images -> {"stride<s>": map}` for the "external" encoder (any classifier's
      feature maps; `jaxvis.saliency.adapter.FlaxClassifier.features`).
    stop_after: stop (checkpointed) at this step although the run, and its learning-rate
      schedule, is `cfg.num_steps` long; a later call with the same workdir continues it.
  """
  if source is not None:
    return _train(cfg, source, map_fn, black_box_apply, black_box_variables, workdir, encoder_variables,
                  checkpoint_every, progress, mesh, eval_fn, eval_every, stop_after, features_fn, worker_count)
  images = np.asarray(images, np.float32)
  labels = np.asarray(labels, np.int32)
  if images.ndim != 4 or tuple(images.shape[1:3]) != tuple(cfg.image_size):
    raise InputError("images", f"expected (N, {cfg.image_size[0]}, {cfg.image_size[1]}, C) to match "
                     f"image_size, got {images.shape}")
  if labels.shape != (images.shape[0],):
    raise InputError("labels", f"expected shape ({images.shape[0]},), got {labels.shape}")
  if labels.min() < 0 or labels.max() >= cfg.masking.num_classes:
    raise InputError("labels", f"expected values in [0, {cfg.masking.num_classes}), got "
                     f"[{labels.min()}, {labels.max()}]")
  return _train(cfg, data_lib.ArraySource({"image": images, "label": labels}), map_fn, black_box_apply,
                black_box_variables, workdir, encoder_variables, checkpoint_every, progress, mesh, eval_fn,
                eval_every, stop_after, features_fn, worker_count)


def _train(cfg, source, map_fn, black_box_apply, black_box_variables, workdir, encoder_variables,
           checkpoint_every, progress, mesh, eval_fn, eval_every, stop_after, features_fn,
           worker_count=0) -> MaskingParams:
  mesh = mesh or train_lib.make_mesh()
  if (cfg.masking.encoder == "external") != (features_fn is not None):
    raise InputError("features_fn", "required exactly when the masking model's encoder is 'external'")
  state = create_state(cfg, black_box_variables, encoder_variables, features_fn)
  step = train_lib.make_train_step(make_loss_fn(cfg, black_box_apply, features_fn), mesh)
  it = data_lib.loader(source, batch_size=cfg.batch_size, seed=cfg.seed, map_fn=map_fn, worker_count=worker_count)
  try:
    state = train_lib.fit(state, step, it, num_steps=min(stop_after or cfg.num_steps, cfg.num_steps),
                          rng=jax.random.key(cfg.seed + 1), mesh=mesh, workdir=workdir, config=cfg,
                          checkpoint_every=checkpoint_every, progress=progress, desc="masking model",
                          eval_fn=eval_fn, eval_every=eval_every)
  finally:
    if hasattr(it, "close"):
      it.close()  # stops the worker processes, if any
  return params_from_state(cfg, state)


# ---------------------------------------------------------------- black-box classifiers


def train_classifier(module, images: np.ndarray, labels: np.ndarray, *, num_steps: int,
                     batch_size: int = 64, learning_rate: float = 1e-3, seed: int = 0,
                     workdir: str | None = None, progress: bool = True, mesh=None,
                     augment: Callable | None = None) -> dict:
  """Trains a stateless classifier (e.g. `SmallCNN`) with softmax cross-entropy; returns its variables."""
  images = np.asarray(images, np.float32)
  labels = np.asarray(labels, np.int32)
  mesh = mesh or train_lib.make_mesh()
  variables = init_variables(module, jax.random.key(seed), jnp.asarray(images[:1]))
  tx = optax.adam(optax.cosine_decay_schedule(learning_rate, num_steps, alpha=0.05))
  state = train_lib.TrainState.create(params=variables["params"], tx=tx)

  def loss_fn(params, model_state, batch, rng):
    del rng
    logits = module.apply({"params": params}, batch["image"])
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()
    acc = jnp.mean(jnp.argmax(logits, -1) == batch["label"])
    return loss, (model_state, {"loss": loss, "acc": acc})

  it = data_lib.loader(data_lib.ArraySource({"image": images, "label": labels}),
                       batch_size=batch_size, seed=seed, map_fn=augment)
  state = train_lib.fit(state, train_lib.make_train_step(loss_fn, mesh), it, num_steps=num_steps,
                        rng=jax.random.key(seed), mesh=mesh, workdir=workdir, progress=progress,
                        desc="black-box classifier", checkpoint_every=max(num_steps // 4, 1))
  return {"params": jax.device_get(state.params)}


def accuracy(apply_fn: ApplyFn, variables, images: np.ndarray, labels: np.ndarray,
             batch_size: int = 256) -> float:
  fn = jax.jit(apply_fn)
  correct = 0
  for i in range(0, len(images), batch_size):
    logits = fn(variables, jnp.asarray(images[i:i + batch_size]))
    correct += int(jnp.sum(jnp.argmax(logits, -1) == jnp.asarray(labels[i:i + batch_size])))
  return 100.0 * correct / max(len(images), 1)
