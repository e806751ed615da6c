"""A controlled "adjective noun" search problem built from real photos (offline).

The "noun" images are random crops of real photos shipped with scikit-image and
scikit-learn (the object label of a crop is its photo). An "adjective" is a
visual property applied to the truly relevant crops: a warm colour cast,
softness (blur) or brightness. Every crop also gets a small random jitter of
exposure and colour, so that the adjective is not the only difference.
P (the "adjective noun" results) and Q (the "noun" results) mix truly relevant
and truly irrelevant crops at a chosen purity, e.g. Table 1's Ratio A / Ratio B.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from jaxvis.adjectives.data import build_query_sets
from jaxvis.ops import image as image_ops
from jaxvis.errors import InputError

# Colour photos; hubble_deep_field is left out: its crops are almost black, so
# no adjective (colour cast, blur, brightness) is visible on them.
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "china", "flower")


def load_photos(names=PHOTOS) -> dict[str, np.ndarray]:
  """The named photos as float32 (H, W, 3) arrays in [0, 1]."""
  import skimage.data
  from sklearn.datasets import load_sample_images
  sample = dict(zip(("china", "flower"), load_sample_images().images))
  out = {}
  for name in names:
    if name in sample:
      img = sample[name]
    elif hasattr(skimage.data, name):
      img = getattr(skimage.data, name)()
    else:
      raise InputError("names", f"unknown photo {name!r}; expected some of {PHOTOS}")
    out[name] = np.asarray(img[..., :3], np.float32) / 255.0
  return out


def random_crops(photos: dict[str, np.ndarray], count: int, size: int,
                 rng: np.random.Generator, num_scenes: int | None = None, min_side: int = 96,
                 max_side: int = 224, wobble: float = 0.08) -> tuple[np.ndarray, np.ndarray]:
  """`count` square crops of the photos, resized to `size`.

  With `num_scenes`, that many "scenes" (photo, side, position) are drawn first
  and every crop is a scene seen again with a small random shift and zoom
  (`wobble`, a fraction of the side): several photos of the same object, as
  search results for one noun contain. Without it every crop is independent.

  Returns:
    crops (count, size, size, 3) float32 and the index of each crop's photo.
  """
  import cv2
  names = list(photos)

  def draw_box(label):
    h, w = photos[names[label]].shape[:2]
    side = int(rng.integers(min_side, min(max_side, h, w) + 1))
    return side, int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))

  if num_scenes is not None:
    scene_labels = rng.integers(0, len(names), num_scenes)
    scenes = [draw_box(l) for l in scene_labels]
    pick = rng.integers(0, num_scenes, count)
    labels = scene_labels[pick]
  else:
    labels = rng.integers(0, len(names), count)
  out = np.empty((count, size, size, 3), np.float32)
  for i, label in enumerate(labels):
    img = photos[names[label]]
    h, w = img.shape[:2]
    if num_scenes is None:
      side, y, x = draw_box(label)
    else:
      side, y, x = scenes[pick[i]]
      side = int(np.clip(side * (1 + rng.uniform(-wobble, wobble) / 2), 16, min(h, w)))
      y = int(np.clip(y + rng.uniform(-wobble, wobble) * side, 0, h - side))
      x = int(np.clip(x + rng.uniform(-wobble, wobble) * side, 0, w - side))
    crop = img[y:y + side, x:x + side]
    out[i] = cv2.resize(np.ascontiguousarray(crop), (size, size), interpolation=cv2.INTER_AREA)
  return np.clip(out, 0.0, 1.0), labels


# --------------------------------------------------------------- adjectives

def warm(images: np.ndarray, strength: float = 1.0) -> np.ndarray:
  """A warm colour cast: more red, less blue (a gain and an offset, so dark crops change too)."""
  gain = np.array([1.0 + 0.12 * strength, 1.0 + 0.03 * strength, 1.0 - 0.15 * strength],
                  np.float32)
  offset = np.array([0.07, 0.02, -0.05], np.float32) * strength
  return np.clip(images * gain + offset, 0, 1).astype(np.float32)


def soft(images: np.ndarray, strength: float = 1.0) -> np.ndarray:
  """Softness: a Gaussian blur (sigma 2.5 px per 100 px of image side)."""
  import jax.numpy as jnp
  sigma = 2.5 * strength * images.shape[1] / 100.0
  return np.clip(np.asarray(image_ops.gaussian_blur(jnp.asarray(images), sigma)), 0, 1)


def bright(images: np.ndarray, strength: float = 1.0) -> np.ndarray:
  """Brightness: a gamma lift (gamma 0.6)."""
  return (np.clip(images, 0, 1) ** (1.0 - 0.4 * strength)).astype(np.float32)


# Adjectives that rearrange an image's content rather than change its pixel values: colour
# and gradient statistics (`features.image_statistics`) cannot tell them apart.

def symmetric(images: np.ndarray) -> np.ndarray:
  """Left-right symmetry: the left half mirrored onto the right half (no seam: the edge is continuous)."""
  w = images.shape[2]
  left = images[:, :, :(w + 1) // 2]
  return np.ascontiguousarray(np.concatenate([left, left[:, :, :w // 2][:, :, ::-1]], axis=2))


def upside_down(images: np.ndarray) -> np.ndarray:
  """The image turned upside down (a vertical flip: every pixel value and gradient kept)."""
  return np.ascontiguousarray(images[:, ::-1])


def scrambled(images: np.ndarray) -> np.ndarray:
  """The four quadrants swapped diagonally (top-left with bottom-right, top-right with bottom-left).

  The pixel values are kept exactly; only the two seams between quadrants are new.
  """
  h, w = images.shape[1] // 2, images.shape[2] // 2
  out = np.array(images)
  out[:, :h, :w], out[:, h:2 * h, w:2 * w] = images[:, h:2 * h, w:2 * w], images[:, :h, :w]
  out[:, :h, w:2 * w], out[:, h:2 * h, :w] = images[:, h:2 * h, :w], images[:, :h, w:2 * w]
  return out


ADJECTIVES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "warm": warm, "soft": soft, "bright": bright,
    "symmetric": symmetric, "upside_down": upside_down, "scrambled": scrambled}

# The synthetic queries and the Table 1 row whose purities they borrow. The rearranging
# adjectives take "happy dog"'s, like "warm photo", so that only the adjective differs.
QUERIES = {
    "warm photo": ("warm", "happy dog"),
    "soft photo": ("soft", "dry flower"),
    "bright photo": ("bright", "ancient city"),
    "symmetric photo": ("symmetric", "happy dog"),
    "upside-down photo": ("upside_down", "happy dog"),
    "scrambled photo": ("scrambled", "happy dog"),
}
# Photometric adjectives (the first three) and rearranging ones.
PHOTOMETRIC = ("warm", "soft", "bright")


def jitter(images: np.ndarray, rng: np.random.Generator, amount: float = 0.06) -> np.ndarray:
  """Per-image random exposure and colour balance: nuisance variation for every crop."""
  n = len(images)
  gain = 1.0 + rng.uniform(-amount, amount, (n, 1, 1, 1))
  colour = 1.0 + rng.uniform(-amount / 2, amount / 2, (n, 1, 1, 3))
  return np.clip(images * gain * colour, 0, 1).astype(np.float32)


class ControlledQuery(NamedTuple):
  """P and Q of one synthetic query, with the truth for evaluation.

  Attributes:
    P, Q: (m, S, S, 3) images.
    relevant_p, relevant_q: (m,) bool, truly relevant images.
    labels_p, labels_q: (m,) photo index of each crop (the object label).
  """
  P: np.ndarray
  Q: np.ndarray
  relevant_p: np.ndarray
  relevant_q: np.ndarray
  labels_p: np.ndarray
  labels_q: np.ndarray


def make_query(adjective: str, ratio_a: float, ratio_b: float, m: int, size: int,
               seed: int = 0, photos: dict[str, np.ndarray] | None = None,
               num_scenes: int | None = -1) -> ControlledQuery:
  """Builds P and Q of `m` crops each with purities `ratio_a` and `ratio_b`.

  `num_scenes`: scenes the crops revisit (default -1: m // 4; None: independent crops).
  """
  if adjective not in ADJECTIVES:
    raise InputError("adjective", f"expected one of {sorted(ADJECTIVES)}, got {adjective!r}")
  rng = np.random.default_rng(seed)
  photos = load_photos() if photos is None else photos
  n_rel = int(round(ratio_a * m)) + int(round(ratio_b * m))
  n_irr = 2 * m - n_rel
  num_scenes = max(m // 4, 1) if num_scenes == -1 else num_scenes
  crops, labels = random_crops(photos, n_rel + n_irr, size, rng, num_scenes=num_scenes)
  crops = jitter(crops, rng)
  relevant = np.zeros(len(crops), bool)
  relevant[:n_rel] = True
  crops[:n_rel] = ADJECTIVES[adjective](crops[:n_rel])
  idx = np.arange(len(crops))
  sets = build_query_sets(idx[relevant], idx[~relevant], ratio_a, ratio_b, m, seed=seed)
  p, q = np.asarray(sets.P), np.asarray(sets.Q)
  return ControlledQuery(crops[p], crops[q], relevant[p], relevant[q], labels[p], labels[q])
