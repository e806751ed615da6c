"""A second training generator: codes on documents, screens and sheets, with code-like negatives.

`scenes.py` pastes 1-2 codes on photos. This generator widens what the detector
sees: a page (printed text, rules, table grids) or a screen (dark bezel, bright
panel, UI blocks, scan lines) carrying codes, seen under strong perspective on a
photo; dense sheets of small codes; single large codes (> 140 px); Micro QR;
inverted codes (light modules on dark); partial occlusion (a blob over an edge);
uneven light (a spot or a soft shadow), Gaussian or motion blur, low-quality
JPEG and noise. A share of the scenes hold no code at all but code-like texture
(text, random binary tiles without finder patterns, grids, checkerboards, 1-D
barcodes): hard negatives for every stage.

Ground truth as `scenes.Scene` (same fields, same conventions): the symbol's
corners clockwise from its own top-left (quiet zone excluded, pixel centres at
integers) are the exact image of the module grid under the homography that
placed it, so every code is fully inside the image. Deterministic per index;
seeds are disjoint from `scenes.py`'s (`scene_seed`).
"""

from __future__ import annotations

import dataclasses
import string

import numpy as np

from jaxvis.errors import InputError
from jaxvis.faces.qr import scenes

KINDS = ("document", "screen", "sheet", "large", "micro", "negative")
_SEED_BASE = 5_000_000   # far from scenes.py's train (0..) and held-out (1e6..) seeds
_UNIT = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float64)


@dataclasses.dataclass(frozen=True)
class DocumentSceneConfig:
  """Attributes:
    height, width: scene size (as `scenes.SceneConfig`, so both generators batch together).
    kind_weights: relative frequency of each of `KINDS`.
    inverted, occluded: probability that a code is inverted / partly covered.
    jpeg: probability of JPEG compression (quality 12-60).
  """
  height: int = 240
  width: int = 320
  kind_weights: tuple = (3, 2, 2, 1, 1, 2)
  inverted: float = 0.12
  occluded: float = 0.15
  jpeg: float = 0.4

  def __post_init__(self):
    if len(self.kind_weights) != len(KINDS) or min(self.kind_weights) < 0 or sum(self.kind_weights) <= 0:
      raise InputError("kind_weights", f"expected {len(KINDS)} non-negative weights, not all 0, "
                       f"got {self.kind_weights}")


def scene_seed(index: int) -> int:
  if not 0 <= index < 1_000_000:
    raise InputError("index", f"expected in [0, 1000000), got {index}")
  return _SEED_BASE + index


def scene_kind(index: int, cfg: DocumentSceneConfig = DocumentSceneConfig()) -> str:
  """The kind of scene `index` (the first draw of its generator)."""
  p = np.asarray(cfg.kind_weights, np.float64)
  return KINDS[int(np.random.default_rng(scene_seed(index)).choice(len(KINDS), p=p / p.sum()))]


def _text(rng, n: int) -> str:
  words = ["".join(rng.choice(list(string.ascii_letters), int(rng.integers(1, 9)))) for _ in range(n)]
  return " ".join(words)


def _micro_matrix(rng):
  import segno
  payload = "".join(rng.choice(list(string.digits), int(rng.integers(1, 12)))) if rng.uniform() < 0.5 \
      else "".join(rng.choice(list(string.ascii_uppercase + string.digits), int(rng.integers(1, 7))))
  return np.asarray(segno.make_micro(payload).matrix, np.uint8), payload


def _qr_matrix(rng, max_payload=40):
  payload = scenes.random_payload(rng, max_payload)
  return scenes.code_matrix(payload, str(rng.choice(list("lmqh"))), int(rng.integers(8))), payload


def _warp(src_size, quad, image, canvas, interp):
  """Blends `image` (src_size square-or-not source) onto canvas so its unit corners land on `quad`."""
  import cv2
  h, w = src_size
  src = np.array([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]], np.float32)
  m = cv2.getPerspectiveTransform(src, quad.astype(np.float32))
  size = (canvas.shape[1], canvas.shape[0])
  warped = cv2.warpPerspective(image, m, size, flags=interp)
  mask = cv2.warpPerspective(np.ones((h, w), np.float32), m, size, flags=cv2.INTER_LINEAR)
  canvas[:] = canvas * (1 - mask[..., None]) + warped.reshape(canvas.shape[:2] + (-1,)) * mask[..., None]


def _paste_code(canvas, rng, matrix, quiet, outer, cfg):
  """Draws the code with its quiet zone so that the quiet-zone outline lands on `outer`.

  Returns the symbol's corners (quiet zone excluded) in scene pixel-centre coordinates.
  """
  import cv2
  n = matrix.shape[0]
  side = float(np.max(np.linalg.norm(outer - np.roll(outer, 1, 0), axis=1)))
  ppm = max(2, int(np.ceil(2 * side / (n + 2 * quiet))))
  src = cv2.resize(np.pad(matrix, quiet), None, fx=ppm, fy=ppm, interpolation=cv2.INTER_NEAREST).astype(np.float32)
  if rng.uniform() < cfg.inverted:
    src = 1 - src
  dark, light = rng.uniform(0, 80, 3), rng.uniform(170, 255, 3)
  colour = light[None, None] + src[..., None] * (dark - light)[None, None]
  _warp(src.shape, outer, colour, canvas, cv2.INTER_AREA if ppm > 2 else cv2.INTER_LINEAR)
  # the symbol corners: the quiet-zone quad's homography applied to the inner module edges
  total = n + 2 * quiet
  unit = np.array([[-0.5, -0.5], [total * ppm - 0.5, -0.5], [total * ppm - 0.5, total * ppm - 0.5],
                   [-0.5, total * ppm - 0.5]], np.float32)
  m = cv2.getPerspectiveTransform(unit, outer.astype(np.float32))
  e0, e1 = quiet * ppm - 0.5, (quiet + n) * ppm - 0.5
  inner = np.array([[[e0, e0], [e1, e0], [e1, e1], [e0, e1]]], np.float32)
  return cv2.perspectiveTransform(inner, m)[0]


def _occlude(canvas, rng, corners):
  """A blob (a thumb, a sticker) over one edge of the code, covering a part of it."""
  import cv2
  edge = int(rng.integers(4))
  a, b = corners[edge], corners[(edge + 1) % 4]
  side = float(np.linalg.norm(b - a))
  centre = a + (b - a) * rng.uniform(0.2, 0.8)
  axes = (int(side * rng.uniform(0.12, 0.25)) + 1, int(side * rng.uniform(0.08, 0.18)) + 1)
  colour = tuple(float(c) for c in rng.uniform(60, 230, 3))
  cv2.ellipse(canvas, (int(centre[0]), int(centre[1])), axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)


def _page(rng, h, w, screen: bool):
  """A flat page (printed text, rules, a table) or a screen (panel, UI blocks, scan lines), float RGB."""
  import cv2
  if screen:
    page = (np.full((h, w, 3), rng.uniform(200, 255)) * rng.uniform(0.85, 1.0, 3)).astype(np.uint8)
    for _ in range(int(rng.integers(2, 6))):
      x0, y0 = int(rng.integers(0, w - 10)), int(rng.integers(0, h - 10))
      cv2.rectangle(page, (x0, y0), (x0 + int(rng.integers(10, w // 2)), y0 + int(rng.integers(6, h // 4))),
                    tuple(float(c) for c in rng.uniform(40, 240, 3)), -1)
  else:
    page = (np.full((h, w, 3), rng.uniform(215, 255)) * rng.uniform(0.9, 1.0, 3)).astype(np.uint8)   # cv2 draws text on uint8
  font = int(rng.choice([cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_DUPLEX,
                         cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX]))
  scale, ink = rng.uniform(0.3, 0.8), tuple(float(c) for c in rng.uniform(0, 70, 3))
  step = int(12 + 20 * scale)
  for y in range(step, h, step):
    if rng.uniform() < 0.85:
      cv2.putText(page, _text(rng, 12), (int(rng.integers(2, 20)), y), font, scale, ink, 1, cv2.LINE_AA)
  if rng.uniform() < 0.4:   # a table's rules
    x0, y0 = int(rng.integers(0, w // 2)), int(rng.integers(0, h // 2))
    for k in range(int(rng.integers(3, 7))):
      cv2.line(page, (x0, y0 + 14 * k), (w - 5, y0 + 14 * k), ink, 1)
  page = page.astype(np.float32)
  if screen:
    page[::int(rng.integers(2, 4))] *= rng.uniform(0.85, 0.97)
  return page


def _layout(rng, count: int, h: int, w: int, side_range, gap: float = 0.15):
  """Up to `count` axis-aligned squares (x, y, side) on an (h, w) page, not overlapping."""
  placed = []
  for _ in range(count * 20):
    if len(placed) == count:
      break
    s = rng.uniform(*side_range)
    if s >= min(h, w) - 2:
      continue
    x, y = rng.uniform(1, w - s - 1), rng.uniform(1, h - s - 1)
    if all(x + s * (1 + gap) < px or px + ps * (1 + gap) < x or y + s * (1 + gap) < py or py + ps * (1 + gap) < y
           for px, py, ps in placed):
      placed.append((x, y, s))
  return placed


def _sheet_layout(rng, h, w):
  """A regular grid of equal squares, as a printed sheet of labels."""
  rows, cols = int(rng.integers(2, 5)), int(rng.integers(3, 6))
  cell = min((h - 4) / rows, (w - 4) / cols)
  s = cell * rng.uniform(0.62, 0.85)
  return [(2 + c * cell + (cell - s) / 2, 2 + r * cell + (cell - s) / 2, s) for r in range(rows) for c in range(cols)]


def _page_quad(rng, h, w, strength: float, fill=(0.65, 0.98)):
  """Where the page lands in the scene: a quad inside the image, its far side shrunk for strong perspective."""
  for _ in range(50):
    pw, ph = w * rng.uniform(*fill), h * rng.uniform(*fill)
    quad = _UNIT * (pw, ph)
    t = rng.uniform(-0.35, 0.35)
    rot = np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])
    quad = (quad - (pw / 2, ph / 2)) @ rot
    far = int(rng.integers(4))   # the side pointing away from the camera gets shorter
    a, b = far, (far + 1) % 4
    shrink = rng.uniform(0, strength)
    mid = (quad[a] + quad[b]) / 2
    quad[a] += (mid - quad[a]) * shrink
    quad[b] += (mid - quad[b]) * shrink
    quad += rng.uniform(-0.05, 0.05, (4, 2)) * (pw, ph)
    lo, hi = quad.min(0), quad.max(0)
    if hi[0] - lo[0] > w - 4 or hi[1] - lo[1] > h - 4:
      continue
    return quad + (rng.uniform(-lo[0] + 2, w - 2 - hi[0]), rng.uniform(-lo[1] + 2, h - 2 - hi[1]))
  return _UNIT * (w - 8, h - 8) + 4


def _negative_texture(canvas, rng, quad):
  """Code-like texture without finder patterns on the page region: tiles, grids, checkerboards, bars."""
  import cv2
  kind = int(rng.integers(4))
  n = int(rng.integers(12, 40))
  if kind == 0:      # random binary tiles: module texture, no finder pattern
    tile = (rng.uniform(size=(n, n)) < 0.5).astype(np.float32)
  elif kind == 1:    # grid lines
    tile = np.zeros((n * 4, n * 4), np.float32)
    tile[::4] = tile[:, ::4] = 1
  elif kind == 2:    # checkerboard
    tile = ((np.arange(n)[:, None] + np.arange(n)[None]) % 2).astype(np.float32)
  else:              # 1-D barcode
    tile = np.repeat((rng.uniform(size=(1, n * 3)) < 0.5).astype(np.float32), n, 0)
  big = cv2.resize(tile, None, fx=6, fy=6, interpolation=cv2.INTER_NEAREST)
  dark, light = rng.uniform(0, 80, 3), rng.uniform(170, 255, 3)
  colour = light[None, None] + big[..., None] * (dark - light)[None, None]
  _warp(big.shape, quad, colour, canvas, cv2.INTER_AREA)


def _degrade(canvas, rng, cfg: DocumentSceneConfig):
  """Uneven light, blur, noise and JPEG, on the whole scene; returns uint8."""
  import cv2
  h, w = canvas.shape[:2]
  gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
  gain = np.full((h, w), rng.uniform(0.6, 1.05), np.float32)
  light = int(rng.integers(3))
  if light == 0:       # a spot light
    cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.2, 0.6) * w
    gain += rng.uniform(0.2, 0.6) * np.exp(-((gx - cx) ** 2 + (gy - cy) ** 2) / (2 * r * r))
  elif light == 1:     # a soft shadow edge
    d = rng.normal(size=2)
    t = (gx - w / 2) * d[0] + (gy - h / 2) * d[1]
    gain *= 1 - rng.uniform(0.3, 0.6) / (1 + np.exp(-t / rng.uniform(3, 25)))
  canvas = canvas * gain[..., None] + rng.uniform(-15, 15)
  blur = int(rng.integers(3))
  if blur == 1:
    canvas = cv2.GaussianBlur(canvas, (0, 0), rng.uniform(0.4, 1.5))
  elif blur == 2:      # motion blur along a random direction
    k = int(rng.integers(3, 7))
    kernel = np.zeros((k, k), np.float32)
    kernel[k // 2] = 1
    rot = cv2.getRotationMatrix2D(((k - 1) / 2, (k - 1) / 2), float(rng.uniform(0, 180)), 1.0)
    kernel = cv2.warpAffine(kernel, rot, (k, k))
    canvas = cv2.filter2D(canvas, -1, kernel / max(kernel.sum(), 1e-6))
  canvas = canvas + rng.normal(0, rng.uniform(0, 7), canvas.shape)
  image = np.clip(np.round(canvas), 0, 255).astype(np.uint8)
  if rng.uniform() < cfg.jpeg:
    ok, buf = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(12, 61))])
    image = np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])
  return image


def make_scene(index: int, cfg: DocumentSceneConfig = DocumentSceneConfig(), clean: bool = False) -> scenes.Scene:
  """Scene `index` (deterministic); `clean`: no light, blur, noise or JPEG (for checking the geometry)."""
  import cv2
  kind = scene_kind(index, cfg)
  rng = np.random.default_rng(scene_seed(index))
  rng.uniform()   # the kind's draw (scene_kind)
  h, w = cfg.height, cfg.width
  canvas = scenes._background(rng, "train", h, w)
  page_quad = _page_quad(rng, h, w, 0.55 if kind in ("document", "screen", "negative") else 0.3,
                         (0.9, 1.0) if kind == "large" else (0.65, 0.98))
  # page pixels about the size of scene pixels, so code sides below are near their size in the scene
  pw = int(max(np.linalg.norm(page_quad[1] - page_quad[0]), np.linalg.norm(page_quad[2] - page_quad[3])))
  ph = int(max(np.linalg.norm(page_quad[3] - page_quad[0]), np.linalg.norm(page_quad[2] - page_quad[1])))
  page = _page(rng, ph, pw, screen=kind == "screen")
  if kind != "large" or rng.uniform() < 0.5:
    _warp((ph, pw), page_quad, page, canvas, cv2.INTER_LINEAR)
  m = cv2.getPerspectiveTransform(np.float32([[0, 0], [pw, 0], [pw, ph], [0, ph]]), page_quad.astype(np.float32))
  to_scene = lambda pts: cv2.perspectiveTransform(np.float32(pts)[None], m)[0]  # noqa: E731

  if kind == "negative":
    for x, y, s in _layout(rng, int(rng.integers(1, 4)), ph, pw, (30, 110)):
      _negative_texture(canvas, rng, to_scene(_UNIT * s + (x, y)))
    codes = []
  elif kind == "sheet":
    codes = [(x, y, s, *_qr_matrix(rng, 24), 4) for x, y, s in _sheet_layout(rng, ph, pw)]
  elif kind == "large":
    s = rng.uniform(0.85, 0.98) * min(ph, pw)
    codes = [((pw - s) / 2, (ph - s) / 2, s, *_qr_matrix(rng), 4)]
  elif kind == "micro":
    codes = [(x, y, s, *_micro_matrix(rng), 2) for x, y, s in _layout(rng, int(rng.integers(1, 4)), ph, pw, (30, 90))]
  else:   # sides with the quiet zone (the symbol is ~0.7 of it): small ones too
    sides = (34, 60) if rng.uniform() < 0.35 else (55, 170)
    codes = [(x, y, s, *_qr_matrix(rng), 4) for x, y, s in _layout(rng, int(rng.integers(1, 3)), ph, pw, sides)]

  boxes, corners, modules, payloads, matrices = [], [], [], [], []
  for x, y, s, matrix, payload, quiet in codes:
    t = int(rng.integers(4)) if kind != "sheet" else 0    # codes printed upright or turned by 90 degrees
    outer = np.roll(_UNIT, -t, 0) * s + (x, y)
    quad = _paste_code(canvas, rng, matrix, quiet, to_scene(outer), cfg)
    if not (quad.min() >= 0 and quad[:, 0].max() <= w - 1 and quad[:, 1].max() <= h - 1):
      raise AssertionError("a code left the scene")   # the page quad lies inside the image
    if rng.uniform() < cfg.occluded:
      _occlude(canvas, rng, quad)
    boxes.append(np.concatenate([quad.min(0) + 0.5, quad.max(0) - 0.5]))
    corners.append(quad)
    modules.append(matrix.shape[0])
    payloads.append(payload)
    matrices.append(matrix)
  image = np.clip(np.round(canvas), 0, 255).astype(np.uint8) if clean else _degrade(canvas, rng, cfg)
  return scenes.Scene(image, np.asarray(boxes, np.float32).reshape(-1, 4),
                      np.asarray(corners, np.float32).reshape(-1, 4, 2), np.asarray(modules, np.int32),
                      payloads, matrices)
