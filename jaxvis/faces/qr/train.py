"""Training the whole QR pipeline from generated scenes: P-, R-, O-Net, then the DenseNet verifier.

Each stage mines its samples with the stages before it (`samples.stage_samples`)
and trains through `jaxvis.faces.training.train_stage` (`jaxvis.train.fit`:
sharded jitted steps, orbax checkpoints in `workdir/<stage>`, resumable). The
verifier learns from the trained cascade's own rectified detections on other
training scenes (`verifier_samples`).
"""

from __future__ import annotations

import dataclasses
import os
import time

import jax.numpy as jnp
import numpy as np

from jaxvis.errors import InputError
from jaxvis.faces import cascade, mining, training
from jaxvis.faces.qr import pipeline, recognizer, rectify, samples, scenes, scenes_documents


_HARD_NEGATIVE_START = 500_000   # scenes_documents indices of the hard negatives (the mix uses 0..)
_HARD_NEGATIVE_INDICES = 200_000
_NEGATIVES_ONLY = scenes_documents.KINDS.index("negative")


@dataclasses.dataclass(frozen=True)
class QrTrainConfig:
  """Settings of one training run (scenes are train-split indices 0..N-1).

  Attributes:
    cascade_scenes: scenes the P/R/O-Nets mine from.
    verifier_scenes: further scenes whose detections train the verifier.
    pnet_steps, rnet_steps, onet_steps, verifier_steps: optimizer steps per stage.
    batch_size: batch of P-Net and R-Net.
    onet_batch_size: batch of O-Net and the verifier (4-8x the compute per sample).
    learning_rate: Adam step size of the cascade stages.
    seed: initialisation, shuffling and random crops.
    scene: `scenes.SceneConfig`.
    document_share: share of the scenes drawn from `scenes_documents` (documents, screens,
      sheets, large / Micro QR codes, code-like negatives) instead of `scenes` (0: only `scenes`).
    documents: `scenes_documents.DocumentSceneConfig` (its size must match `scene`'s).
    init_weights: a weights file whose P-/R-/O-Net the cascade stages start from (fine-tuning;
      None: fresh init). The verifier always starts fresh.
    hard_negative_scenes: code-free scenes with code-like texture (`scenes_documents` kind
      "negative": text pages, binary tiles, grids, checkerboards, 1-D bars) added to O-Net's
      mining scenes, and as many further ones to the verifier's: there every candidate the
      trained cascade proposes is a negative (hard-negative mining). 0: none.
  """
  cascade_scenes: int = 1000
  verifier_scenes: int = 150
  pnet_steps: int = 2500
  rnet_steps: int = 2000
  onet_steps: int = 1600
  verifier_steps: int = 300
  batch_size: int = 128
  onet_batch_size: int = 48
  learning_rate: float = 2e-3
  seed: int = 0
  scene: scenes.SceneConfig = scenes.SceneConfig()
  document_share: float = 0.0
  documents: scenes_documents.DocumentSceneConfig = scenes_documents.DocumentSceneConfig()
  init_weights: str | None = None
  hard_negative_scenes: int = 0

  def __post_init__(self):
    if not 0 <= self.hard_negative_scenes <= _HARD_NEGATIVE_INDICES:
      raise InputError("hard_negative_scenes", f"expected in [0, {_HARD_NEGATIVE_INDICES}], "
                                               f"got {self.hard_negative_scenes}")
    if not 0.0 <= self.document_share <= 1.0:
      raise InputError("document_share", f"expected in [0, 1], got {self.document_share}")
    same_size = (self.documents.height, self.documents.width) == (self.scene.height, self.scene.width)
    if (self.document_share > 0 or self.hard_negative_scenes > 0) and not same_size:
      raise InputError("documents", "expected the same height and width as `scene` (scenes are batched together)")

  @classmethod
  def tiny(cls) -> "QrTrainConfig":
    return cls(cascade_scenes=24, verifier_scenes=8, pnet_steps=30, rnet_steps=20, onet_steps=30,
               verifier_steps=20, batch_size=32, onet_batch_size=32)


def training_scene(cfg: QrTrainConfig, index: int) -> scenes.Scene:
  """Training scene `index` of the mix: spread evenly, a `document_share` of them from `scenes_documents`."""
  if np.floor((index + 1) * cfg.document_share) > np.floor(index * cfg.document_share):
    return scenes_documents.make_scene(index, cfg.documents)
  return scenes.make_scene("train", index, cfg.scene)


def hard_negative_scene(cfg: QrTrainConfig, index: int) -> scenes.Scene:
  """Code-free training scene `index` with code-like texture (`scenes_documents` kind "negative")."""
  weights = tuple(int(k == _NEGATIVES_ONLY) for k in range(len(scenes_documents.KINDS)))
  return scenes_documents.make_scene(_HARD_NEGATIVE_START + index,
                                     dataclasses.replace(cfg.documents, kind_weights=weights))


def _crop_batches(weights, images, batch_size=4, **options):
  """`pipeline.detect_codes` over a list of equal-size images (the last batch padded)."""
  outs = []
  for i in range(0, len(images), batch_size):
    chunk = np.stack(images[i:i + batch_size])
    n = len(chunk)
    if n < batch_size:
      chunk = np.concatenate([chunk, np.zeros((batch_size - n,) + chunk.shape[1:], chunk.dtype)])
    det = pipeline.detect_codes(weights, chunk, **options)
    outs.append([np.asarray(x)[:n] for x in det])
  f = max(o[0].shape[1] for o in outs)   # a grown re-run may have widened some batches' slots
  pad = lambda x, k: x if k == 5 else cascade.pad_slots(x, f)  # noqa: E731
  return pipeline.CodeDetections(*(np.concatenate([pad(o[k], k) for o in outs]) for k in range(len(pipeline.CodeDetections._fields))))


_QUADS_PER_SCENE = 16   # padded count: one compiled rectification for every scene


def verifier_samples(weights, scene_list, seed: int = 0, cfg: pipeline.QrConfig = pipeline.QrConfig()):
  """Verifier inputs (N, 32, 32, 1) and labels, rectified upright as `pipeline.detect_codes` does.

  The cascade's detections with IoU >= 0.5 to a code are positives, IoU < 0.3
  negatives; each code's true corners jittered by up to 4% of its side give two
  more positives; random quadrilaterals away from the codes are added until the
  scene gives at least 4 negatives.
  """
  rng = np.random.default_rng(seed)
  if "verifier" not in weights:   # an untrained verifier with threshold 0 passes everything through
    weights = dict(weights, verifier=recognizer.init(seed))
  options = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}
  options["thresholds"] = tuple(cfg.thresholds[:3]) + (0.0,)
  det = _crop_batches(weights, [s.image for s in scene_list], **options)
  crops, labels = [], []
  for i, s in enumerate(scene_list):
    quads, quad_labels = [], []
    v = det.valid[i]
    if v.any():
      iou = mining.iou_matrix(det.boxes[i][v], s.boxes) if len(s.boxes) else np.zeros((v.sum(), 1))
      for q, b in zip(det.corners[i][v], iou.max(1)):
        if b >= 0.5 or b < 0.3:
          quads.append(q), quad_labels.append(int(b >= 0.5))
    for corners in s.corners:
      side = np.linalg.norm(corners[1] - corners[0])
      for _ in range(2):
        quads.append(corners + rng.uniform(-0.04, 0.04, (4, 2)) * side), quad_labels.append(1)
    for _ in range(50):
      if len(quads) >= _QUADS_PER_SCENE or sum(1 - l for l in quad_labels) >= 4:
        break
      side = rng.uniform(30, 120)
      cx, cy = rng.uniform(side / 2, s.image.shape[1] - side / 2), rng.uniform(side / 2, s.image.shape[0] - side / 2)
      t = rng.uniform(0, 2 * np.pi)
      q = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * side / 2 @ np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])
      q = q + (cx, cy) + rng.uniform(-0.1, 0.1, (4, 2)) * side
      box = np.r_[q.min(0), q.max(0)]
      if not len(s.boxes) or mining.iou_matrix(box, s.boxes).max() < 0.1:
        quads.append(q), quad_labels.append(0)
    quads, quad_labels = quads[:_QUADS_PER_SCENE], quad_labels[:_QUADS_PER_SCENE]
    padded = np.tile(np.array([[0, 0], [31, 0], [31, 31], [0, 31]], np.float32), (_QUADS_PER_SCENE, 1, 1))
    padded[:len(quads)] = quads
    gray = rectify.rectify_gray(jnp.asarray(s.image, jnp.float32)[None], jnp.asarray(padded)[None],
                                cfg.crop_size, cfg.margin)
    crops += list(np.asarray(gray[0])[:len(quads)])
    labels += quad_labels
  inputs = np.asarray(recognizer.prepare(jnp.asarray(np.stack(crops))))
  return inputs, np.asarray(labels, np.int32)


def _cached_samples(directory: str | None, mine) -> mining.Samples:
  """Mined samples, kept in the stage's workdir so that a resumed run does not mine again."""
  path = None if directory is None else os.path.join(directory, "samples.npz")
  if path and os.path.exists(path):
    with np.load(path) as f:
      return mining.Samples(f["images"], f["labels"], f["boxes"], f["landmarks"])
  s = mine()
  if path:
    os.makedirs(directory, exist_ok=True)
    np.savez(path, images=s.images, labels=s.labels, boxes=s.boxes, landmarks=s.landmarks)
  return s


def train_all(cfg: QrTrainConfig, workdir: str | None = None, log=print) -> dict:
  """Trains P-, R-, O-Net and the verifier; returns {"pnet", "rnet", "onet", "verifier"}."""
  def stage_dir(name):
    return None if workdir is None else os.path.join(workdir, name)

  t0 = time.perf_counter()
  train_scenes = [training_scene(cfg, i) for i in range(cfg.cascade_scenes)]
  log({"phase": "scenes", "count": len(train_scenes), "document_share": cfg.document_share,
       "seconds": round(time.perf_counter() - t0, 1)})
  n_neg = cfg.hard_negative_scenes
  negatives = [hard_negative_scene(cfg, i) for i in range(2 * n_neg)]   # O-Net's, then the verifier's
  if n_neg:
    log({"phase": "hard_negative_scenes", "count": len(negatives), "seconds": round(time.perf_counter() - t0, 1)})
  start = pipeline.load_weights(cfg.init_weights) if cfg.init_weights else {}
  weights = {}
  for stage, steps in (("pnet", cfg.pnet_steps), ("rnet", cfg.rnet_steps), ("onet", cfg.onet_steps)):
    t0 = time.perf_counter()
    mine_from = train_scenes + negatives[:n_neg] if stage == "onet" else train_scenes
    s = _cached_samples(stage_dir(stage), lambda: samples.stage_samples(mine_from, stage, weights, seed=cfg.seed))
    batch = cfg.onet_batch_size if stage == "onet" else cfg.batch_size
    tc = training.TrainConfig(stage=stage, steps=steps, batch_size=batch,
                              learning_rate=cfg.learning_rate, seed=cfg.seed, num_landmarks=4,
                              cyclic_landmarks=True)
    weights[stage] = training.train_stage(tc, s.as_arrays(), workdir=stage_dir(stage), params=start.get(stage),
                                          checkpoint_every=max(steps // 2, 1))
    log({"phase": stage, "samples": s.counts(), "steps": steps, "seconds": round(time.perf_counter() - t0, 1)})
  t0 = time.perf_counter()
  vscenes = [training_scene(cfg, cfg.cascade_scenes + i) for i in range(cfg.verifier_scenes)] + negatives[n_neg:]
  inputs, labels = verifier_samples(weights, vscenes, cfg.seed)
  vc = recognizer.VerifierConfig(steps=cfg.verifier_steps, batch_size=cfg.onet_batch_size, seed=cfg.seed)
  weights["verifier"] = recognizer.train_verifier(vc, inputs, labels, workdir=stage_dir("verifier"))
  log({"phase": "verifier", "samples": {"code": int(labels.sum()), "not_code": int((1 - labels).sum())},
       "steps": cfg.verifier_steps, "seconds": round(time.perf_counter() - t0, 1)})
  return weights
