"""Small generated data in the published formats, for tests, the demo and the benchmark.

* `write_fer2013_csv`: cartoon 48x48 grey faces in FER2013's CSV layout
  (`emotion,pixels,Usage`); each of the 7 classes has its own mouth curvature and
  eyebrow slant, with random position, contrast and noise.
* `illustrative_songs`: a songs table spread over the AV plane, marked illustrative.
"""

from __future__ import annotations

import numpy as np

from jaxvis.music.songs import Songs
from jaxvis.music.vocab import FER2013_CLASSES

# (mouth curvature, eyebrow slant, mouth openness) per FER2013 class.
_FACE_PARAMS = {
    "angry": (-0.3, 0.5, 0.0), "disgust": (-0.6, -0.3, 0.0), "fear": (-0.1, -0.6, 0.6),
    "happy": (0.8, 0.0, 0.0), "sad": (-0.8, -0.2, 0.0), "surprise": (0.0, -0.4, 1.0),
    "neutral": (0.0, 0.0, 0.0)}


def cartoon_face(label: int, rng: np.random.Generator, size: int = 48) -> np.ndarray:
  """One (size, size) uint8 face of FER2013 class `label`."""
  curve, brow, opened = _FACE_PARAMS[FER2013_CLASSES[label]]
  yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
  cx, cy = 0.5 + rng.uniform(-0.05, 0.05), 0.5 + rng.uniform(-0.05, 0.05)
  bg, fg = rng.uniform(20, 80), rng.uniform(150, 220)
  img = np.full((size, size), bg, np.float32)
  img[((xx - cx) / 0.4) ** 2 + ((yy - cy) / 0.46) ** 2 < 1] = fg
  dark = fg - rng.uniform(90, 130)
  for side in (-1, 1):
    ex = cx + side * 0.15
    img[((xx - ex) ** 2 + (yy - (cy - 0.1)) ** 2) < 0.045 ** 2] = dark
    # eyebrow: a short line whose slant depends on the class
    t = np.linspace(-0.08, 0.08, 20)
    bx = ex + t
    by = cy - 0.22 + side * brow * t
    for x, y in zip(bx, by):
      img[int(np.clip(y * size, 0, size - 1)), int(np.clip(x * size, 0, size - 1))] = dark
  t = np.linspace(-0.15, 0.15, 40)
  my = cy + 0.2 + curve * (0.04 - (t / 0.15) ** 2 * 0.04) * 2   # image y points down
  for x, y in zip(cx + t, my):
    y0 = int(np.clip(y * size, 0, size - 1))
    y1 = int(np.clip((y + 0.02 + 0.1 * opened) * size, 0, size - 1))
    img[y0:y1 + 1, int(np.clip(x * size, 0, size - 1))] = dark
  img += rng.normal(0, 6, img.shape)
  return np.clip(img, 0, 255).astype(np.uint8)


def write_fer2013_csv(path: str, per_class: int = 20, seed: int = 0,
                      usage_split=(0.8, 0.1, 0.1)) -> None:
  """Writes `per_class` faces of every class in FER2013's CSV layout."""
  rng = np.random.default_rng(seed)
  rows = []
  for label in range(len(FER2013_CLASSES)):
    for _ in range(per_class):
      rows.append((label, cartoon_face(label, rng)))
  order = rng.permutation(len(rows))
  n = len(rows)
  cut1, cut2 = int(usage_split[0] * n), int((usage_split[0] + usage_split[1]) * n)
  with open(path, "w", encoding="utf-8") as f:
    f.write("emotion,pixels,Usage\n")
    for rank, i in enumerate(order):
      label, face = rows[i]
      usage = "Training" if rank < cut1 else ("PublicTest" if rank < cut2 else "PrivateTest")
      f.write(f"{label},{' '.join(str(int(v)) for v in face.ravel())},{usage}\n")


def illustrative_songs(n: int = 60, seed: int = 0) -> Songs:
  """A made-up songs table covering the AV plane (NOT real songs; for demos only)."""
  rng = np.random.default_rng(seed)
  r = np.sqrt(rng.uniform(0.05, 0.8, n))
  t = rng.uniform(0, 2 * np.pi, n)
  va = np.stack([r * np.cos(t), r * np.sin(t)], 1).astype(np.float32)
  ids = tuple(f"demo{i:03d}" for i in range(n))
  return Songs(ids, va, tuple(f"illustrative song {i}" for i in range(n)),
               "illustrative (generated, not real songs)")
