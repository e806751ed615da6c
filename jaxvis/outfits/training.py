"""Training and evaluating outfit graders on a Polyvore Outfits folder.

`train(cfg, workdir)` reads the data, extracts (cached) item features, builds
positives (optionally through the paper's validity filter) and two same-part
swap negatives per positive, and trains through `jaxvis.train.fit`.
`evaluate(...)` reports, on one split: the paper's accuracy and precision on
its positives + negatives, their AUC, the published compatibility AUC and the
fill-in-the-blank accuracy.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxvis import data as data_lib
from jaxvis import train as train_lib
from jaxvis.errors import InputError
from jaxvis.nn.variables import init_variables
from jaxvis.outfits import (encode, features, metrics, models, negatives, part_classifier,
                            polyvore)


DATA_FORMATS = ("polyvore_outfits", "maryland", "crawled")


@dataclasses.dataclass(frozen=True)
class OutfitsConfig:
  data: str = ""                   # dataset root (or the sets file for "crawled")
  data_format: str = "polyvore_outfits"  # "polyvore_outfits", "maryland" or "crawled"
  variant: str = "disjoint"        # Polyvore Outfits: "disjoint" or "nondisjoint"
  min_likes: int = 1               # crawled: positives need this many likes (the paper: 1)
  model: str = "slot"              # "slot" (the paper), "deepsets" or "attention"
  hidden: int = 4096               # slot: hidden width; deepsets/attention: model width
  dropout: float = 0.5
  optimizer: str = "adam"          # "adam", or "sgd" (the paper: SGD + momentum)
  learning_rate: float = 1e-3      # the paper's SGD: 1e-4
  momentum: float = 0.9            # for "sgd" (the paper: 0.9)
  batch_size: int = 64
  num_steps: int = 5000            # the paper: 400,000 iterations
  negatives_per_positive: int = 2  # the paper: 2
  filter_valid: bool = True        # keep only the paper's valid outfits as positives
  require_feet: bool = True        # validity: outfits must include footwear
  max_items: int = 8               # least "set" layout length (longer outfits widen it)
  backbone: str = "resnet50"       # item feature network (pool5)
  image_size: int = 224
  weights: str = ""                # backbone weight file (.h5, .safetensors, .pth)
  allow_random_backbone: bool = False  # with no weights: seeded random init (else refused)
  feature_cache: str = ""          # folder for cached features ("" = <workdir>/features)
  standardize_features: bool = False  # z-score features by train-item statistics (not in paper)
  seed: int = 0
  dtype: str = "float32"           # grader compute dtype ("bfloat16" on accelerators)
  eval_every: int = 0              # validation compatibility AUC every N steps (0: off)
  checkpoint_every: int = 1000

  @classmethod
  def tiny(cls, data: str = "", **overrides) -> "OutfitsConfig":
    """A CPU-sized run on the synthetic dataset."""
    base = dict(data=data, hidden=64, dropout=0.2, batch_size=32, num_steps=500,
                backbone="tiny", image_size=64, checkpoint_every=0, standardize_features=True)
    base.update(overrides)
    return cls(**base)

  @property
  def layout(self) -> str:
    return "slots" if self.model == "slot" else "set"

  def feature_config(self) -> features.FeatureConfig:
    return features.FeatureConfig(backbone=self.backbone, image_size=self.image_size,
                                  weights=self.weights, seed=self.seed)

  def validate(self) -> "OutfitsConfig":
    if self.model not in models.GRADERS:
      raise InputError("model", f"expected one of {sorted(models.GRADERS)}, got {self.model!r}")
    if self.data_format not in DATA_FORMATS:
      raise InputError("data_format", f"expected one of {DATA_FORMATS}, got {self.data_format!r}")
    if self.optimizer not in ("adam", "sgd"):
      raise InputError("optimizer", f"expected 'adam' or 'sgd', got {self.optimizer!r}")
    if self.dtype not in ("float32", "bfloat16"):
      raise InputError("dtype", f"expected 'float32' or 'bfloat16', got {self.dtype!r}")
    for name in ("batch_size", "hidden", "negatives_per_positive"):
      if getattr(self, name) < 1:
        raise ValueError(f"{name}: expected >= 1, got {getattr(self, name)}")
    return self


# --------------------------------------------------------------------------- data

@dataclasses.dataclass
class Prepared:
  """A dataset with every clothing item's feature at hand."""
  data: polyvore.PolyvoreData
  part_of: dict[str, str]
  table: np.ndarray            # (num_items, D) item features
  row_of: dict[str, int]       # item id -> row of `table`
  mean_feature: np.ndarray     # (D,) feature of the mean item image


@dataclasses.dataclass(frozen=True)
class FeatureNorm:
  """Per-dimension z-scoring of item features, fitted on the training items."""
  mean: np.ndarray
  std: np.ndarray
  FILE = "feature_norm.npz"

  @classmethod
  def fit(cls, feats: np.ndarray) -> "FeatureNorm":
    return cls(feats.mean(0), feats.std(0) + 1e-3 * feats.std() + 1e-12)

  def __call__(self, feats: np.ndarray) -> np.ndarray:
    return ((feats - self.mean) / self.std).astype(np.float32)

  def save(self, workdir: str) -> None:
    os.makedirs(workdir, exist_ok=True)
    np.savez(os.path.join(workdir, self.FILE), mean=self.mean, std=self.std)

  @classmethod
  def load(cls, workdir: str) -> "FeatureNorm | None":
    path = os.path.join(workdir, cls.FILE)
    if not os.path.isfile(path):
      return None
    with np.load(path) as f:
      return cls(f["mean"], f["std"])


def load_dataset(cfg: OutfitsConfig) -> polyvore.PolyvoreData:
  """Reads `cfg.data` in `cfg.data_format`.

  Crawled sets (Polyvore409k form) have no published split: the liked valid
  outfits are split by the paper's Algorithm 1 into train (A) and test (B);
  outfits sharing items with both (C) are dropped, and there is no valid split.
  """
  if cfg.data_format == "polyvore_outfits":
    return polyvore.read_polyvore_outfits(cfg.data, cfg.variant)
  if cfg.data_format == "maryland":
    return polyvore.read_maryland_polyvore(cfg.data)
  items, outfits = polyvore.read_crawled_sets(cfg.data)
  kept = polyvore.valid_outfits(outfits, items, min_likes=cfg.min_likes,
                                require_feet=cfg.require_feet)
  a, b, _ = polyvore.disjoint_split([o.item_ids for o in kept], cfg.seed)
  return polyvore.PolyvoreData(items=items, outfits={"train": [kept[i] for i in a], "valid": [],
                                                     "test": [kept[i] for i in b]})


MEAN_FEATURE_FILE = "mean_image_feature.npy"   # raw backbone space, saved with the model


def prepare(cfg: OutfitsConfig, workdir: str, progress: bool = True) -> Prepared:
  """Reads `cfg.data`, makes sure every clothing item's feature is cached, and gets the
  model's mean-image feature (computed once from the training items, then read from
  `workdir`, so re-evaluating on any data gives the model's own empty-slot feature)."""
  features.check_backbone(cfg.weights, cfg.allow_random_backbone)
  data = load_dataset(cfg)
  part_of = {i: it.part for i, it in data.items.items() if it.part is not None}
  used: dict[str, str] = {}
  for outfits in data.outfits.values():
    for o in outfits:
      used.update((i, data.items[i].image) for i in o.item_ids if i in part_of)
  for tasks in data.compatibility.values():
    for _, ids in tasks:
      used.update((i, data.items[i].image) for i in ids if i in part_of)
  for questions in data.fitb.values():
    for q in questions:
      used.update((i, data.items[i].image) for i in q.question + q.candidates if i in part_of)
  fcfg = cfg.feature_config()
  cache_dir = cfg.feature_cache or os.path.join(workdir, "features")
  cache = features.FeatureCache(os.path.join(cache_dir, fcfg.key()), fcfg)
  mean_path = os.path.join(workdir, MEAN_FEATURE_FILE)
  extractor = None
  if set(used) - set(cache.ids) or not os.path.isfile(mean_path):
    extractor = features.FeatureExtractor(fcfg)
  cache.update(used, extractor, progress=progress)
  table, row_of = cache.lookup(list(used))
  train_items = sorted({i for o in data.outfits["train"] for i in o.item_ids if i in part_of})
  if os.path.isfile(mean_path):
    mean_feature = np.load(mean_path)
  else:
    if not train_items:
      raise InputError("data", "no clothing items in the training split to take the mean "
                               "image of")
    mean_feature = features.mean_image_feature([data.items[i].image for i in train_items], fcfg,
                                               extractor, progress)
    os.makedirs(workdir, exist_ok=True)
    np.save(mean_path, mean_feature)
  prep = Prepared(data, part_of, table, row_of, mean_feature)
  if cfg.standardize_features:
    norm = FeatureNorm.load(workdir)
    if norm is None:
      norm = FeatureNorm.fit(table[[row_of[i] for i in train_items]])
      norm.save(workdir)
    prep.table, prep.mean_feature = norm(table), norm(mean_feature)
  return prep


def positives(prep: Prepared, split: str, cfg: OutfitsConfig) -> list[tuple[str, ...]]:
  """The split's outfits, trimmed to clothing, through the validity filter if asked."""
  outfits = prep.data.outfits[split]
  if cfg.filter_valid:
    kept = polyvore.valid_outfits(outfits, prep.data.items, require_feet=cfg.require_feet)
  else:
    kept = [o for o in (polyvore.clothing_only(o, prep.data.items) for o in outfits) if o.item_ids]
  return [o.item_ids for o in kept]


def labelled(prep: Prepared, split: str, cfg: OutfitsConfig, seed: int
             ) -> tuple[list[tuple[str, ...]], np.ndarray]:
  """Positives plus `negatives_per_positive` same-part swap negatives each."""
  pos = positives(prep, split, cfg)
  if not pos:
    raise InputError("data", f"split {split!r} has no usable outfits (after the validity filter: "
                     f"{cfg.filter_valid})")
  neg = negatives.make_negatives(pos, prep.part_of, seed=seed,
                                 per_positive=cfg.negatives_per_positive)
  return pos + neg, np.r_[np.ones(len(pos), np.int32), np.zeros(len(neg), np.int32)]


def batch_arrays(prep: Prepared, enc: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
  """Encoded rows -> the graders' inputs {"features", "parts", "mask"}."""
  return {"features": encode.gather_features(prep.table, prep.mean_feature, enc["items"]),
          "parts": enc["parts"], "mask": enc["items"] >= 0}


# --------------------------------------------------------------------------- model

def build(cfg: OutfitsConfig, dim: int):
  """(model, initial variables) for item features of width `dim`."""
  model = models.make_grader(cfg.model, cfg.hidden, cfg.dropout, jnp.dtype(cfg.dtype))
  m = 8 if cfg.layout == "slots" else cfg.max_items
  dummy = (jnp.zeros((1, m, dim)), jnp.zeros((1, m), jnp.int32), jnp.ones((1, m), bool))
  key = jax.random.key(cfg.seed)
  variables = init_variables(model, {"params": key, "dropout": key}, *dummy)
  return model, variables


def make_optimizer(cfg: OutfitsConfig) -> optax.GradientTransformation:
  if cfg.optimizer == "sgd":
    return optax.sgd(cfg.learning_rate, momentum=cfg.momentum)
  return optax.adam(cfg.learning_rate)


def make_loss_fn(model):
  """Multinomial logistic loss on the 2-way logits."""

  def loss_fn(params, model_state, batch, rng):
    logits, new_state = model.apply({"params": params, **model_state}, batch["features"],
                                    batch["parts"], batch["mask"], train=True,
                                    rngs={"dropout": rng}, mutable=list(model_state))
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()
    acc = jnp.mean(jnp.argmax(logits, -1) == batch["label"])
    return loss, (dict(new_state), {"loss": loss, "accuracy": acc})

  return loss_fn


def make_scorer(model, batch_size: int = 256):
  """`scorer(variables, prep, enc) -> P(good)` for every encoded row, in padded batches."""
  apply = jax.jit(lambda v, f, p, m: models.good_probability(model.apply(v, f, p, m)))

  def scorer(variables, prep: Prepared, enc: dict[str, np.ndarray]) -> np.ndarray:
    n = len(enc["items"])
    out = []
    for start in range(0, n, batch_size):
      part = {k: enc[k][start:start + batch_size] for k in ("items", "parts")}
      pad = batch_size - len(part["items"])
      if pad:
        part = {k: np.concatenate([v, np.repeat(v[-1:], pad, 0)]) for k, v in part.items()}
      b = batch_arrays(prep, part)
      out.append(np.asarray(apply(variables, b["features"], b["parts"], b["mask"])))
    return np.concatenate(out)[:n] if out else np.zeros((0,), np.float32)

  return scorer


def score_outfits(scorer, variables, prep: Prepared, outfits: Sequence[Sequence[str]],
                  cfg: OutfitsConfig) -> np.ndarray:
  """P(good) per outfit: every item scored (an outfit with extra same-part items is the mean
  over its slot rows; set graders see all items; see `encode`)."""
  enc = encode.encode(outfits, prep.part_of, prep.row_of, cfg.layout, cfg.max_items)
  return encode.group_mean(scorer(variables, prep, enc), enc["group"], len(outfits))


# --------------------------------------------------------------------------- evaluate

def evaluate(cfg: OutfitsConfig, model, variables, prep: Prepared, split: str = "test"
             ) -> dict[str, float]:
  """The paper's metrics on `split` plus the published compatibility and FITB tasks.

  Non-clothing items (beauty, home: part None) are trimmed everywhere, as for training: a
  compatibility outfit is graded on its clothing, and a FITB candidate that is not clothing
  leaves the question's outfit as it is (ties between candidates share the credit).
  """
  score = make_scorer(model)
  out: dict[str, float] = {}
  outfits, labels = labelled(prep, split, cfg, seed=cfg.seed + 1)
  s = score_outfits(score, variables, prep, outfits, cfg)
  out.update(accuracy=metrics.accuracy(s, labels), precision=metrics.precision(s, labels),
             auc=metrics.auc(s, labels), num_outfits=len(outfits))
  comp = prep.data.compatibility.get(split)
  if comp:
    trimmed = [tuple(i for i in ids if i in prep.part_of) for _, ids in comp]
    keep = [k for k, t in enumerate(trimmed) if t]
    s = score_outfits(score, variables, prep, [trimmed[k] for k in keep], cfg)
    out["compatibility_auc"] = metrics.auc(s, [comp[k][0] for k in keep])
    out["compatibility_outfits"] = len(keep)
  fitb = prep.data.fitb.get(split)
  if fitb:
    flat, non_clothing = [], 0
    for q in fitb:
      base = tuple(i for i in q.question if i in prep.part_of)
      for c in q.candidates:
        flat.append(base + ((c,) if c in prep.part_of else ()))
        non_clothing += c not in prep.part_of
    s = score_outfits(score, variables, prep, flat, cfg)
    per_q, k = [], 0
    for q in fitb:
      per_q.append(s[k:k + len(q.candidates)])
      k += len(q.candidates)
    out["fitb_accuracy"] = metrics.fitb_accuracy(per_q, [q.answer for q in fitb])
    out["fitb_questions"] = len(fitb)
    out["fitb_non_clothing_candidates"] = non_clothing
  return out


# --------------------------------------------------------------------------- train

def train(cfg: OutfitsConfig, workdir: str, progress: bool = True
          ) -> tuple[Any, dict, dict[str, float]]:
  """Trains a grader; returns (model, variables, test metrics) and writes them to workdir."""
  cfg.validate()
  prep = prepare(cfg, workdir, progress)
  model, variables = build(cfg, prep.table.shape[1])
  outfits, labels = labelled(prep, "train", cfg, seed=cfg.seed)
  enc = encode.encode(outfits, prep.part_of, prep.row_of, cfg.layout, cfg.max_items)
  source = data_lib.ArraySource({"items": enc["items"], "parts": enc["parts"],
                                 "label": labels[enc["group"]]})

  def to_batch(record):
    b = batch_arrays(prep, {k: record[k][None] for k in ("items", "parts")})
    return {k: v[0] for k, v in b.items()} | {"label": record["label"]}

  it = data_lib.loader(source, cfg.batch_size, seed=cfg.seed, map_fn=to_batch)
  mesh = train_lib.make_mesh()
  model_state = {k: v for k, v in variables.items() if k != "params"}
  state = train_lib.TrainState.create(params=variables["params"], tx=make_optimizer(cfg),
                                      model_state=model_state)
  step = train_lib.make_train_step(make_loss_fn(model), mesh)
  eval_fn = None
  if cfg.eval_every and prep.data.outfits.get("valid"):
    eval_fn = lambda s: _valid_metrics(cfg, model, s, prep)   # noqa: E731
  os.makedirs(workdir, exist_ok=True)
  np.save(os.path.join(workdir, "mean_feature.npy"), prep.mean_feature)
  state = train_lib.fit(state, step, it, num_steps=cfg.num_steps, rng=jax.random.key(cfg.seed),
                        mesh=mesh, workdir=workdir, config=cfg,
                        checkpoint_every=cfg.checkpoint_every, eval_fn=eval_fn,
                        eval_every=cfg.eval_every, progress=progress, desc=f"outfits {cfg.model}")
  variables = {"params": state.params, **state.model_state}
  result = evaluate(cfg, model, variables, prep, "test")
  result["part_classifier_accuracy"] = _fit_part_classifier(prep, workdir)
  with open(os.path.join(workdir, "eval_test.json"), "w") as f:
    json.dump(result, f, indent=2)
  return model, variables, result


def _split_items(prep: Prepared, split: str) -> list[str]:
  return sorted({i for o in prep.data.outfits.get(split, []) for i in o.item_ids
                 if i in prep.part_of})


def _fit_part_classifier(prep: Prepared, workdir: str) -> float:
  """Fits and saves the part classifier on the training items; its test-item accuracy."""
  train_items = _split_items(prep, "train")
  clf = part_classifier.PartClassifier.fit(prep.table[[prep.row_of[i] for i in train_items]],
                                           [prep.part_of[i] for i in train_items])
  clf.save(workdir)
  test_items = _split_items(prep, "test")
  if not test_items:
    return float("nan")
  predicted = clf.predict(prep.table[[prep.row_of[i] for i in test_items]])
  return float(np.mean([p == prep.part_of[i] for p, i in zip(predicted, test_items)]))


def _valid_metrics(cfg, model, state, prep) -> dict[str, float]:
  variables = {"params": state.params, **state.model_state}
  return {k: v for k, v in evaluate(cfg, model, variables, prep, "valid").items()
          if k in ("auc", "compatibility_auc", "fitb_accuracy")}


@dataclasses.dataclass
class TrainedGrader:
  """A grader restored from its workdir, with what it needs to read new items."""
  cfg: OutfitsConfig
  model: Any
  variables: dict
  mean_feature: np.ndarray     # empty-slot feature, already in the grader's feature space
  norm: FeatureNorm | None     # applied to raw backbone features first (if trained so)
  parts: part_classifier.PartClassifier | None = None   # on grader-space features

  def to_grader_space(self, raw: np.ndarray) -> np.ndarray:
    raw = np.asarray(raw, np.float32)
    return raw if self.norm is None else self.norm(raw)


def load(workdir: str) -> TrainedGrader:
  """The trained grader in `workdir` (latest checkpoint)."""
  if not os.path.isdir(os.path.join(workdir, "checkpoints")):
    raise InputError("workdir", f"no grader checkpoint under {workdir}")
  ckpt = train_lib.Checkpointer(workdir)
  try:
    if ckpt.latest_step() is None:
      raise InputError("workdir", f"no grader checkpoint under {workdir}")
    raw = ckpt.restore_config()
    cfg = OutfitsConfig(**{k: v for k, v in raw.items()
                           if k in {f.name for f in dataclasses.fields(OutfitsConfig)}})
    mean_feature = np.load(os.path.join(workdir, "mean_feature.npy"))
    model, variables = build(cfg, mean_feature.shape[0])
    template = train_lib.TrainState.create(
        params=variables["params"], tx=make_optimizer(cfg),
        model_state={k: v for k, v in variables.items() if k != "params"})
    state = ckpt.restore(template)
  finally:
    ckpt.close()
  return TrainedGrader(cfg, model, {"params": state.params, **state.model_state}, mean_feature,
                       FeatureNorm.load(workdir) if cfg.standardize_features else None,
                       part_classifier.PartClassifier.load(workdir))


def evaluate_workdir(workdir: str, split: str = "test", data: str | None = None,
                     progress: bool = True) -> dict[str, float]:
  """Loads the grader in `workdir` and evaluates it (optionally on another data folder)."""
  grader = load(workdir)
  cfg = dataclasses.replace(grader.cfg, data=data) if data else grader.cfg
  prep = prepare(cfg, workdir, progress)
  return evaluate(cfg, grader.model, grader.variables, prep, split)


def compare(cfgs: Sequence[OutfitsConfig], workdir: str, progress: bool = True
            ) -> list[dict[str, Any]]:
  """Trains each config in `cfgs` (e.g. slot, deepsets, attention) and evaluates them alike."""
  rows = []
  for cfg in cfgs:
    if not cfg.feature_cache:   # one feature cache for all graders
      cfg = dataclasses.replace(cfg, feature_cache=os.path.join(workdir, "features"))
    _, _, result = train(cfg, os.path.join(workdir, cfg.model), progress)
    rows.append({"model": cfg.model, **result})
  return rows
