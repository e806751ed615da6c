"""CIFAR-10 from the standard `cifar-10-batches-py` folder (the python pickle release).

Layout: `data_batch_1` .. `data_batch_5`, `test_batch` (pickled dicts with b"data": (10000, 3072)
uint8, each row 1024 R then 1024 G then 1024 B values, row-major 32x32, and b"labels": list of
ints) and `batches.meta` (b"label_names").
"""

from __future__ import annotations

import os
import pickle

import numpy as np

from jaxvis.data import safe_pickle
from jaxvis.errors import InputError

TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILES = ("test_batch",)


def _read_pickle(path: str):
  """A CIFAR pickle read with the restricted unpickler: plain data and numeric arrays only."""
  try:
    with open(path, "rb") as f:
      return safe_pickle.load(f, encoding="bytes")
  except safe_pickle.UnsafePickleError as e:
    raise InputError(path, f"is not a CIFAR-10 python batch: {e}") from None


def _read_batch(path: str) -> tuple[np.ndarray, np.ndarray]:
  d = _read_pickle(path)
  if not isinstance(d, dict) or b"data" not in d or b"labels" not in d:
    raise InputError(path, "is not a CIFAR-10 python batch (expected a dict with b'data' and b'labels')")
  data = d[b"data"]
  if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
    raise InputError(path, f"expected b'data' as uint8 of shape (N, 3072), got "
                           f"{getattr(data, 'dtype', type(data).__name__)} {np.shape(data)}")
  labels = np.asarray(d[b"labels"])
  if labels.shape != (data.shape[0],) or not np.issubdtype(labels.dtype, np.integer) \
     or (labels.size and (labels.min() < 0 or labels.max() > 9)):
    raise InputError(path, f"expected {data.shape[0]} integer labels in 0..9, got {labels.dtype} "
                           f"{labels.shape}")
  images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
  return images, labels.astype(np.int32)


def load_split(data_dir: str, split: str = "train", as_float: bool = True):
  """Images (N, 32, 32, 3) (float32 in [0, 1], or uint8) and labels (N,) int32."""
  files = {"train": TRAIN_FILES, "test": TEST_FILES}.get(split)
  if files is None:
    raise InputError("split", f"expected 'train' or 'test', got {split!r}")
  missing = [f for f in files if not os.path.exists(os.path.join(data_dir, f))]
  if missing:
    raise InputError("data_dir", f"{data_dir} is not a cifar-10-batches-py folder (missing {missing})")
  parts = [_read_batch(os.path.join(data_dir, f)) for f in files]
  images = np.concatenate([p[0] for p in parts])
  labels = np.concatenate([p[1] for p in parts])
  return (images.astype(np.float32) / 255.0 if as_float else images), labels


def label_names(data_dir: str) -> list[str]:
  meta = _read_pickle(os.path.join(data_dir, "batches.meta"))
  return [n.decode() for n in meta[b"label_names"]]


def write_fixture(data_dir: str, images_per_batch: int = 20, seed: int = 0) -> None:
  """Writes a small folder in exactly the published format (for tests).

  Images are not noise: class k is a coloured shape (k selects colour and a square's position)
  on a random background, so a small CNN can learn it and a masking model can localise it.
  """
  rng = np.random.default_rng(seed)
  os.makedirs(data_dir, exist_ok=True)
  names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
  with open(os.path.join(data_dir, "batches.meta"), "wb") as f:
    pickle.dump({b"label_names": names, b"num_cases_per_batch": images_per_batch, b"num_vis": 3072}, f)
  for name in TRAIN_FILES + TEST_FILES:
    labels = rng.integers(0, 10, images_per_batch)
    imgs = rng.integers(0, 80, (images_per_batch, 32, 32, 3)).astype(np.uint8)
    for i, k in enumerate(labels):
      y, x = rng.integers(0, 20, 2)
      colour = np.array([(k * 97) % 256, (k * 53 + 80) % 256, 255 - k * 20], np.uint8)
      imgs[i, y:y + 12, x:x + 12] = colour
    data = imgs.transpose(0, 3, 1, 2).reshape(images_per_batch, 3072)
    with open(os.path.join(data_dir, name), "wb") as f:
      pickle.dump({b"batch_label": name.encode(), b"labels": [int(v) for v in labels], b"data": data,
                   b"filenames": [f"{i}.png".encode() for i in range(images_per_batch)]}, f)
