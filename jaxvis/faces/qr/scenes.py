"""Synthetic QR-code scenes: segno codes warped onto real photos, with exact ground truth.

Each code: a random payload (text, URL or number of random length) at a random
error-correction level, rendered with its 4-module quiet zone in random dark /
light colours, scaled to a random module size, rotated by any angle, warped by
a random perspective, and pasted on a crop of a real photo (scikit-image and
scikit-learn sample images); then the whole scene gets a lighting gradient,
Gaussian blur and noise. Ground truth per code: the xyxy box (inclusive
pixels), the 4 outer corners of the module grid clockwise from the code's own
top-left (pixel centres at integers), the module count and the payload.

Everything is drawn from `numpy.random.default_rng(seed)`; the train and held-out
splits use disjoint seed ranges (`scene_seed`) and disjoint background photos.
"""

from __future__ import annotations

import dataclasses
import functools
import string
from typing import NamedTuple

import numpy as np

from jaxvis.errors import InputError

SPLITS = ("train", "heldout")
_SPLIT_BASE = {"train": 0, "heldout": 1_000_000}
_QUIET = 4  # modules of quiet zone, as the standard asks


@dataclasses.dataclass(frozen=True)
class SceneConfig:
  """Ranges of the random scene parameters.

  Attributes:
    height, width: scene size in pixels.
    max_codes: codes per scene are 1..max_codes (the 2nd with probability 0.3).
    module_px: (min, max) module side in pixels before perspective.
    max_side: largest code side in pixels (module size is capped to respect it).
    perspective: corner jitter as a fraction of the code side.
    blur_sigma: (min, max) Gaussian blur sigma in pixels (0: none).
    noise_sigma: (min, max) additive Gaussian noise, uint8 levels.
    max_payload: longest payload in characters.
  """
  height: int = 240
  width: int = 320
  max_codes: int = 2
  module_px: tuple = (1.8, 4.0)
  max_side: int = 130
  perspective: float = 0.12
  blur_sigma: tuple = (0.0, 1.3)
  noise_sigma: tuple = (0.0, 8.0)
  max_payload: int = 40


class Scene(NamedTuple):
  """One generated image and its codes.

  Attributes:
    image: (H, W, 3) uint8 RGB.
    boxes: (K, 4) float32 xyxy inclusive pixel boxes of the symbols (quiet zone excluded).
    corners: (K, 4, 2) float32 (x, y) corners, clockwise from the code's own top-left.
    modules: (K,) int32 modules per side (21 for version 1, +4 per version).
    payloads: K strings.
    matrices: K (n, n) uint8 module matrices (1 = dark), row 0 at the code's top.
  """
  image: np.ndarray
  boxes: np.ndarray
  corners: np.ndarray
  modules: np.ndarray
  payloads: list
  matrices: list


def scene_seed(split: str, index: int) -> int:
  """The seed of scene `index` of a split; the two splits' ranges never meet."""
  if split not in SPLITS:
    raise InputError("split", f"expected one of {SPLITS}, got {split!r}")
  if not 0 <= index < 1_000_000:
    raise InputError("index", f"expected in [0, 1000000), got {index}")
  return _SPLIT_BASE[split] + index


@functools.lru_cache(maxsize=None)
def backgrounds(split: str) -> tuple:
  """Real photos as uint8 RGB; the held-out split uses photos training never sees."""
  from skimage import data
  from sklearn.datasets import load_sample_images
  china, flower = load_sample_images().images

  def rgb(a):
    a = np.asarray(a)
    return np.repeat(a[..., None], 3, -1) if a.ndim == 2 else a[..., :3]

  if split == "train":
    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), data.immunohistochemistry(),
              data.hubble_deep_field(), data.camera(), data.brick(), data.grass(), data.text(), china]
  elif split == "heldout":
    photos = [data.retina(), flower, data.gravel(), data.coins(), data.clock(), data.page(), data.moon()]
  else:
    raise InputError("split", f"expected one of {SPLITS}, got {split!r}")
  return tuple(np.ascontiguousarray(rgb(p)) for p in photos)


def random_payload(rng: np.random.Generator, max_len: int = 40) -> str:
  """Text, a URL or a number, of random length."""
  kind = rng.integers(3)
  if kind == 0:
    alphabet = string.ascii_letters + string.digits + " .,-!?"
    n = int(rng.integers(1, max_len + 1))
    return "".join(rng.choice(list(alphabet), n)).strip() or "x"
  if kind == 1:
    host = "".join(rng.choice(list(string.ascii_lowercase), int(rng.integers(3, 10))))
    tld = rng.choice(["com", "org", "net", "io", "de", "jp"])
    path = "".join(rng.choice(list(string.ascii_lowercase + string.digits), int(rng.integers(0, 12))))
    return f"https://{host}.{tld}/{path}"[:max_len]
  return "".join(rng.choice(list(string.digits), int(rng.integers(1, max_len + 1))))


def code_matrix(payload: str, error: str = "m", mask: int | None = None) -> np.ndarray:
  """The (n, n) module matrix of a QR code (1 = dark), no quiet zone.

  `mask` picks the data mask pattern (0-7); None lets segno search the best one
  (slow: a given mask is equally valid, decoders read it from the format bits).
  """
  import segno
  return np.asarray(segno.make(payload, error=error, mask=mask, micro=False).matrix, np.uint8)


def _background(rng, split: str, h: int, w: int) -> np.ndarray:
  """A random crop of a random photo at a random zoom, resized to (h, w)."""
  import cv2
  photos = backgrounds(split)
  bg = photos[int(rng.integers(len(photos)))]
  zoom = max(h / bg.shape[0], w / bg.shape[1]) * rng.uniform(1.0, 2.0)
  ch, cw = min(bg.shape[0], int(np.ceil(h / zoom))), min(bg.shape[1], int(np.ceil(w / zoom)))
  y = int(rng.integers(0, bg.shape[0] - ch + 1))
  x = int(rng.integers(0, bg.shape[1] - cw + 1))
  crop = bg[y:y + ch, x:x + cw]   # crop first: only the needed pixels get resampled
  return cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA if zoom < 1 else cv2.INTER_LINEAR).astype(np.float32)


def _target_quad(rng, cfg: SceneConfig, side: float, margin: float, taken: list):
  """Symbol corners (clockwise from its own top-left) placed inside the scene, or None."""
  for _ in range(30):
    theta = rng.uniform(0, 2 * np.pi)
    c, s = np.cos(theta), np.sin(theta)
    unit = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64) * side / 2
    quad = unit @ np.array([[c, s], [-s, c]])
    quad += rng.uniform(-cfg.perspective, cfg.perspective, (4, 2)) * side
    outer = quad * (1 + 2 * margin)  # quiet zone must fit in the scene too
    lo, hi = outer.min(0), outer.max(0)
    if hi[0] - lo[0] >= cfg.width - 2 or hi[1] - lo[1] >= cfg.height - 2:
      continue
    cx = rng.uniform(-lo[0] + 1, cfg.width - 1 - hi[0])
    cy = rng.uniform(-lo[1] + 1, cfg.height - 1 - hi[1])
    box = np.concatenate([lo + (cx, cy), hi + (cx, cy)])
    if any(not (box[2] < b[0] or b[2] < box[0] or box[3] < b[1] or b[3] < box[1]) for b in taken):
      continue
    taken.append(box)
    return (quad + (cx, cy)).astype(np.float32)
  return None


def _paste(canvas, rng, matrix, quad, cfg: SceneConfig):
  """Warps the code (with quiet zone) onto `canvas` so its symbol corners land on `quad`."""
  import cv2
  n = matrix.shape[0]
  side = float(np.linalg.norm(quad[1] - quad[0]))
  ppm = max(2, int(np.ceil(2 * side / n)))                       # source pixels per module
  padded = np.pad(matrix, _QUIET)
  src_img = cv2.resize(padded, None, fx=ppm, fy=ppm, interpolation=cv2.INTER_NEAREST).astype(np.float32)
  dark = rng.uniform(0, 90, 3)
  light = rng.uniform(165, 255, 3)
  colour = light[None, None] + src_img[..., None] * (dark - light)[None, None]
  e0, e1 = _QUIET * ppm - 0.5, (_QUIET + n) * ppm - 0.5         # symbol edges, pixel-centre coords
  src = np.array([[e0, e0], [e1, e0], [e1, e1], [e0, e1]], np.float32)
  m = cv2.getPerspectiveTransform(src, quad)
  size = (canvas.shape[1], canvas.shape[0])
  warped = cv2.warpPerspective(colour, m, size, flags=cv2.INTER_AREA if ppm > 2 else cv2.INTER_LINEAR)
  mask = cv2.warpPerspective(np.ones(colour.shape[:2], np.float32), m, size, flags=cv2.INTER_LINEAR)
  canvas[:] = canvas * (1 - mask[..., None]) + warped * mask[..., None]


def make_scene(split: str, index: int, cfg: SceneConfig = SceneConfig(), clean: bool = False) -> Scene:
  """Scene `index` of `split` (deterministic).

  Args:
    split: "train" or "heldout" (disjoint seeds and background photos).
    index: scene number in [0, 1e6).
    cfg: `SceneConfig`.
    clean: no lighting, blur or noise (for checking the geometry).
  """
  import cv2
  rng = np.random.default_rng(scene_seed(split, index))
  h, w = cfg.height, cfg.width
  canvas = _background(rng, split, h, w)
  count = 1 + int(cfg.max_codes > 1 and rng.uniform() < 0.3)
  boxes, corners, modules, payloads, matrices, taken = [], [], [], [], [], []
  for _ in range(count):
    payload = random_payload(rng, cfg.max_payload)
    matrix = code_matrix(payload, str(rng.choice(list("lmqh"))), int(rng.integers(8)))
    n = matrix.shape[0]
    side = min(n * rng.uniform(*cfg.module_px), cfg.max_side)
    quad = _target_quad(rng, cfg, side, _QUIET / n, taken)
    if quad is None:
      continue
    _paste(canvas, rng, matrix, quad, cfg)
    boxes.append(np.concatenate([quad.min(0) + 0.5, quad.max(0) - 0.5]))
    corners.append(quad)
    modules.append(n)
    payloads.append(payload)
    matrices.append(matrix)
  if not clean:
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    d = rng.normal(size=2)
    ramp = (gx * d[0] / w + gy * d[1] / h)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    gain = rng.uniform(0.55, 1.0) + ramp * rng.uniform(0.0, 0.45)
    canvas = canvas * gain[..., None] + rng.uniform(-20, 20)
    sigma = rng.uniform(*cfg.blur_sigma)
    if sigma > 0.3:
      canvas = cv2.GaussianBlur(canvas, (0, 0), sigma)
    canvas = canvas + rng.normal(0, rng.uniform(*cfg.noise_sigma), canvas.shape)
  image = np.clip(np.round(canvas), 0, 255).astype(np.uint8)
  return Scene(image, np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(corners, np.float32).reshape(-1, 4, 2),
               np.asarray(modules, np.int32), payloads, matrices)


def make_scenes(split: str, start: int, count: int, cfg: SceneConfig = SceneConfig()) -> list:
  """Scenes start..start+count-1 of a split."""
  return [make_scene(split, i, cfg) for i in range(start, start + count)]
