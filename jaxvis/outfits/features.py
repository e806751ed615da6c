"""Item features: ResNet pool5 of each item image, batched on device, cached on disk.

The paper uses ImageNet ResNet-50 pool5 (2048-d) and fills an empty slot
with the feature of the *mean image*. Without internet no ImageNet weights can
be fetched here: `weights` loads a Keras `.h5`, or a torchvision / timm
`.safetensors` or `.pth` file (read without executing pickled code) when one is
at hand; a seeded random init is used only when asked for
(`check_backbone`).
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from jaxvis.data import images as images_lib
from jaxvis.errors import InputError
from jaxvis.nn import resnet, resnet_import

TORCH_WEIGHTS = (".safetensors", ".pth", ".pt")   # torchvision / timm state dicts (v1.5)
BACKBONES = {"resnet50": resnet.ResNet50, "resnet18": resnet.ResNet18, "tiny": resnet.ResNetTiny}


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
  backbone: str = "resnet50"      # "resnet50" (the paper), "resnet18" or "tiny" (tests)
  image_size: int = 224           # items are resized to a square of this side
  weights: str = ""               # Keras .h5 / torchvision .safetensors or .pth; "" = random init
  seed: int = 0
  batch_size: int = 32

  def key(self) -> str:
    """A name for the cache folder that changes whenever the features would."""
    tag = os.path.splitext(os.path.basename(self.weights))[0] if self.weights else f"init{self.seed}"
    return f"{self.backbone}_{self.image_size}_{tag}"


def load_image(path: str, size: int) -> np.ndarray:
  """An item image as (size, size, 3) uint8 RGB, read by the shared loader (EXIF, 16-bit,
  alpha over white); a missing or unreadable file is an InputError naming it."""
  return images_lib.resized_rgb(path, size)


def check_backbone(weights: str, allow_random: bool) -> None:
  """Refuses features from a random-initialised backbone unless asked for.

  Random features still carry colour and shape statistics (enough for the synthetic
  benchmarks) but not what ImageNet weights know; a user who forgot `--weights` should
  hear so instead of getting a silently weak grader.
  """
  if not weights and not allow_random:
    raise InputError("--weights", "no backbone weight file given (Keras .h5, torchvision / timm "
                                  ".safetensors or .pth); pass --allow-random-backbone to use a "
                                  "seeded random-initialised backbone on purpose")


def mean_image_feature(paths: Sequence[str], cfg: FeatureConfig,
                       extractor: "FeatureExtractor | None" = None, progress: bool = False
                       ) -> np.ndarray:
  """The paper's empty-slot feature: the backbone feature of the mean of `paths`' images
  (the training items), (D,) float32."""
  if not paths:
    raise InputError("paths", "no images to average for the mean-image feature")
  total = np.zeros((cfg.image_size, cfg.image_size, 3), np.float64)
  for path in tqdm(paths, desc="mean image", disable=not progress):
    total += load_image(path, cfg.image_size)
  mean_image = np.round(total / len(paths)).astype(np.uint8)[None]
  extractor = extractor or FeatureExtractor(cfg)
  return extractor(mean_image)[0].astype(np.float32)


def random_init(model, image_size: int, seed: int) -> dict:
  """Seeded variables drawn with numpy in the shapes `model.init` gives.

  Same scheme as Flax's defaults (LeCun-normal kernels, zero biases, unit BN
  scales and variances), without compiling the init graph, which takes close
  to a minute for a ResNet on a loaded 2-core CPU.
  """
  dummy = jax.ShapeDtypeStruct((1, image_size, image_size, 3), jnp.float32)
  shapes = jax.eval_shape(model.init, jax.random.key(0), dummy)
  rng = np.random.default_rng(seed)

  def draw(path, leaf):
    name = getattr(path[-1], "key", "")
    if name == "kernel":
      fan_in = int(np.prod(leaf.shape[:-1]))
      value = rng.standard_normal(leaf.shape) / np.sqrt(fan_in)
    elif name in ("scale", "var"):
      value = np.ones(leaf.shape)
    else:
      value = np.zeros(leaf.shape)
    return jnp.asarray(value, leaf.dtype)

  return jax.tree_util.tree_map_with_path(draw, shapes)


class FeatureExtractor:
  """`extractor(uint8 images (N, S, S, 3)) -> pool5 features (N, D)` in fixed-size jitted batches."""

  def __init__(self, cfg: FeatureConfig):
    if cfg.backbone not in BACKBONES:
      raise InputError("backbone", f"expected one of {sorted(BACKBONES)}, got {cfg.backbone!r}")
    self.cfg = cfg
    torch_file = cfg.weights.endswith(TORCH_WEIGHTS)
    self.model = BACKBONES[cfg.backbone](num_classes=None, variant="v1.5" if torch_file else "v1")
    self.mode = "torch" if torch_file else "caffe"
    if cfg.weights:
      if not os.path.isfile(cfg.weights):
        raise InputError("weights", f"file not found: {cfg.weights}")
      if cfg.weights.endswith(".safetensors"):
        load = resnet.load_safetensors
      elif torch_file:
        load = resnet_import.load_pth          # allow-list unpickler: no pickled code runs
      else:
        load = resnet.load_keras_h5
      self.variables = jax.tree.map(jnp.asarray, load(cfg.weights))
    else:
      self.variables = random_init(self.model, cfg.image_size, cfg.seed)
    self.dim = resnet.feature_channels(self.model)["pool5"]

    def forward(variables, images):
      _, feats = self.model.apply(variables, resnet.preprocess(images, self.mode),
                                  return_features=True)
      return feats["pool5"]

    self._forward = jax.jit(forward)

  def __call__(self, images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
      raise InputError("images", f"expected (N, H, W, 3) RGB, got shape {images.shape}")
    out = []
    bs = self.cfg.batch_size
    for start in range(0, len(images), bs):
      chunk = images[start:start + bs]
      n = len(chunk)
      if n < bs:   # pad so every batch has one compiled shape
        chunk = np.concatenate([chunk, np.repeat(chunk[-1:], bs - n, 0)])
      out.append(np.asarray(self._forward(self.variables, chunk))[:n])
    return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)


class FeatureCache:
  """Item features on disk under `directory`: `features.npy` and `meta.json` (config, ids).

  The cache is shared by every run with the same feature config, so it holds
  nothing run-specific: the mean-image feature is computed from a run's training
  items and saved with the model (`mean_image_feature`).
  """

  def __init__(self, directory: str, cfg: FeatureConfig):
    self.directory = directory
    self.cfg = cfg
    os.makedirs(directory, exist_ok=True)
    meta_path = os.path.join(directory, "meta.json")
    self.ids: list[str] = []
    self.paths: dict[str, str] = {}   # id -> the image it was extracted from
    self.table = None
    if os.path.isfile(meta_path):
      with open(meta_path) as f:
        meta = json.load(f)
      if meta.get("config") != dataclasses.asdict(cfg):
        raise InputError(directory, f"feature cache made with {meta.get('config')}, not {cfg}; "
                         "use another cache folder")
      self.ids = meta["ids"]
      self.paths = meta.get("paths", {})
      self.table = np.load(os.path.join(directory, "features.npy"))

  def update(self, images: Mapping[str, str], extractor: FeatureExtractor | None = None,
             progress: bool = True, save_every: int = 64) -> None:
    """Extracts and stores features of the items in `images` (id -> path) not cached yet.

    Progress is saved every `save_every` chunks, so an interrupted extraction resumes.
    """
    cached = set(self.ids)
    # Ids are only unique within a dataset (two synthetic sets share them): an id cached from
    # another image must not silently lend its feature.
    for i in cached & set(images):
      known, given = self.paths.get(i), os.path.abspath(images[i])
      if known is not None and known != given:
        raise InputError(self.directory, f"item {i!r} is cached from {known}, not {given}: "
                                         "another dataset uses this cache; use another "
                                         "--feature-cache")
    todo = [i for i in images if i not in cached]
    if not todo:
      return
    extractor = extractor or FeatureExtractor(self.cfg)
    size, bs = self.cfg.image_size, self.cfg.batch_size * 8
    pending_ids: list[str] = []
    pending: list[np.ndarray] = []
    for n, start in enumerate(tqdm(range(0, len(todo), bs), desc="item features",
                                   disable=not progress)):
      ids = todo[start:start + bs]
      batch = np.stack([load_image(images[i], size) for i in ids])
      pending.append(extractor(batch).astype(np.float32))
      pending_ids += ids
      if (n + 1) % save_every == 0 or start + bs >= len(todo):
        new = np.concatenate(pending)
        self.table = new if self.table is None else np.concatenate([self.table, new])
        self.ids = self.ids + pending_ids
        self.paths.update((i, os.path.abspath(images[i])) for i in pending_ids)
        pending, pending_ids = [], []
        self._save()

  def _save(self) -> None:
    d = self.directory
    np.save(os.path.join(d, "features.npy"), self.table)
    with open(os.path.join(d, "meta.json.tmp"), "w") as f:
      json.dump({"config": dataclasses.asdict(self.cfg), "ids": self.ids, "paths": self.paths}, f)
    os.replace(os.path.join(d, "meta.json.tmp"), os.path.join(d, "meta.json"))

  def lookup(self, item_ids: Sequence[str]) -> tuple[np.ndarray, dict[str, int]]:
    """(whole cached table, id -> row), checking every id of `item_ids` is cached."""
    row = {i: n for n, i in enumerate(self.ids)}
    missing = [i for i in item_ids if i not in row]
    if missing:
      raise InputError("item_ids", f"{len(missing)} items have no cached feature, e.g. "
                                   f"{missing[:3]}")
    return self.table, row
