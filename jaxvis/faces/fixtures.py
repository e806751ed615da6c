"""Small WIDER FACE / CelebA trees in exactly the published layouts, from real pictures.

Real `lfw_subset` faces pasted on real photos (`samples.lfw_mosaic`), written as
JPEG files with `wider_face_split/wider_face_train_bbx_gt.txt` or
`Anno/list_bbox_celeba.txt` + `Anno/list_landmarks_celeba.txt` beside them.
For tests, docs and smoke runs of `jaxvis faces train/evaluate`; nothing is downloaded.

lfw_subset has no landmark annotation, so the five points of each face are
the pretrained O-Net's on the whole 25x25 face (computed once): pseudo ground
truth, good enough to check that landmark training and NME work end to end.
"""

from __future__ import annotations

import os

import numpy as np

from jaxvis.faces import celeba, samples, wider


_LANDMARKS: list[np.ndarray] = []


def lfw_landmarks(onet_params=None) -> np.ndarray:
  """(100, 5, 2) landmarks of the lfw_subset faces in their 25x25 frame (pretrained O-Net).

  Computed once per process; pass `onet_params` (the pretrained O-Net's) to skip loading them.
  """
  if _LANDMARKS:
    return _LANDMARKS[0]
  import jax
  from jaxvis.faces import cascade, nets, weights
  if onet_params is None:
    onet_params = weights.arrays_to_params(
        "onet", weights.load_array_list(os.path.join(weights.mtcnn_weights_dir(), "onet.lz4")))
  faces = samples.lfw_faces().astype(np.float32)
  crops = jax.image.resize(cascade.normalize(faces), (100, 48, 48, 3), "bilinear")
  _, marks, _ = jax.jit(nets.ONet().apply)({"params": onet_params}, crops)
  marks = np.asarray(marks).reshape(100, 2, 5)
  _LANDMARKS.append(np.stack([marks[:, 0] * 25 - 1, marks[:, 1] * 25 - 1], -1).astype(np.float32))
  return _LANDMARKS[0]


def scene(seed: int, shape=(240, 320), n_faces: int = 3, face_sizes=(40, 56, 72)):
  """One real photo with real faces: (image, boxes (n, 4) xyxy, landmarks (n, 5, 2))."""
  canvas, boxes, picked = samples.paste_faces(seed, shape, face_sizes, n_faces)
  marks = lfw_landmarks()
  # the 25 px frame maps onto s px: pixel centres scale by s / 25
  lms = [(marks[k] + 0.5) * ((x2 - x1 + 1) / 25.0) - 0.5 + np.array([x1, y1], np.float32)
         for k, (x1, y1, x2, _) in zip(picked, boxes)]
  return canvas, np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(lms, np.float32).reshape(-1, 5, 2)


def _save(path: str, image: np.ndarray) -> None:
  from PIL import Image
  os.makedirs(os.path.dirname(path), exist_ok=True)
  Image.fromarray(image).save(path, quality=95)


def write_wider(root: str, n_images: int = 6, seed: int = 0, split: str = "train",
                shape=(240, 320), n_faces: int = 3, face_sizes=(40, 56, 72)) -> str:
  """Writes `<root>/WIDER_<split>/images/...` and `<root>/wider_face_split/wider_face_<split>_bbx_gt.txt`.

  Returns:
    The annotation file's path. The last image has no face (count 0, as WIDER writes it).
  """
  rng = np.random.default_rng(seed)
  recs = []
  for i in range(n_images):
    last = i == n_images - 1 and n_images > 1
    image, boxes, _ = scene(int(rng.integers(1 << 30)), shape, 0 if last else n_faces, face_sizes)
    name = f"{i % 3}--Scene/{i % 3}_Scene_{i}.jpg"
    _save(os.path.join(root, f"WIDER_{split}", "images", name), image)
    recs.append((name, boxes, None))
  ann = os.path.join(root, "wider_face_split", f"wider_face_{split}_bbx_gt.txt")
  os.makedirs(os.path.dirname(ann), exist_ok=True)
  wider.write_bbx_gt(ann, recs)
  return ann


def write_celeba(root: str, n_images: int = 6, seed: int = 1, shape=(160, 160),
                 face_sizes=(72, 96), aligned: bool = False) -> str:
  """Writes `<root>/img_celeba/000001.jpg ...` and `<root>/Anno/list_{bbox,landmarks}_celeba.txt`
  (one face per image, as CelebA), or with `aligned=True` the aligned layout:
  `<root>/img_align_celeba/` and `<root>/Anno/list_landmarks_align_celeba.txt`. Returns `root`."""
  rng = np.random.default_rng(seed)
  recs = []
  for i in range(n_images):
    image, boxes, lms = scene(int(rng.integers(1 << 30)), shape, 1, face_sizes)
    name = f"{i + 1:06d}.jpg"
    _save(os.path.join(root, "img_align_celeba" if aligned else "img_celeba", name), image)
    recs.append((name, boxes[0], lms[0]))
  if aligned:
    celeba.write_celeba_aligned(root, [(name, lm) for name, _, lm in recs])
  else:
    celeba.write_celeba(root, recs)
  return root


# The synthetic validation tree's subsets by face height. WIDER FACE defines easy / medium /
# hard by EdgeBox detection rates, which follow face size closely; size is the stand-in here.
SUBSET_MIN_HEIGHT = {"easy": 50, "medium": 30, "hard": 0}


def write_wider_val_protocol(root: str, n_images: int = 6, seed: int = 0, shape=(240, 320),
                             n_faces: int = 3, face_sizes=(24, 40, 56, 72)) -> str:
  """A validation tree for the official protocol: `<root>/WIDER_val/images/...`,
  `<root>/wider_face_split/wider_face_val_bbx_gt.txt` and the four .mat files in
  `<root>/eval_tools/` (subsets by face height, `SUBSET_MIN_HEIGHT`). Returns that folder."""
  from jaxvis.faces import wider_eval
  ann = write_wider(root, n_images, seed, "val", shape, n_faces, face_sizes)
  events, subsets = {}, {s: {} for s in SUBSET_MIN_HEIGHT}
  for r in wider.read_bbx_gt(ann):
    event, file = r.name.split("/")
    stem = os.path.splitext(file)[0]
    xywh = np.concatenate([r.boxes[:, :2], r.boxes[:, 2:] - r.boxes[:, :2] + 1], axis=1)
    events.setdefault(event, {})[stem] = xywh
    for s, h in SUBSET_MIN_HEIGHT.items():
      subsets[s][stem] = [k + 1 for k in range(len(xywh)) if xywh[k, 3] >= h]
  gt_dir = os.path.join(root, "eval_tools")
  os.makedirs(gt_dir, exist_ok=True)
  wider_eval.write_ground_truth(gt_dir, events, subsets)
  return gt_dir
