"""Held-out QR scenes for the benchmark: an independent generator, never used for training.

Written apart from the training generator (`scenes.py`) and sharing no code with it:
other backgrounds (procedural desk / fabric / wood textures and photos training never sees),
text (matplotlib's STIX / Computer Modern fonts; training scenes have none), other payloads
(Wi-Fi and vCard strings, URLs with queries, serial numbers, Latin-1 and Japanese text), and
another image model: every scene is rendered at twice its size through a 3-D pose of a planar
surface (a sticker, a printed page, a sheet of labels, a screen) seen by a pinhole camera,
then area-downsampled, so perspective, foreshortening and resampling come from one
projection; blur, light, compression and noise act on the result.

Each scene stresses one difficulty factor (`FACTORS`, mild amounts of the others mixed in):

  small        1-3 codes of 26-54 px (about 1-2.5 px per module)
  large        one code of 150-360 px
  sheet        a printed sheet of 12-30 codes, photographed at an angle (800x600)
  dense        versions 7-10 (long payloads), 70-170 px
  perspective  a code on a plane turned 45-68 degrees away from the camera
  blur         defocus (disc) or motion blur
  jpeg         JPEG quality 6-22 after a resize
  light        a spotlight, a hard shadow across the code, low contrast
  occlusion    a finger, a sticker or pen strokes over part of a code (EC level Q/H)
  inverted     light modules on a dark ground (dark-mode screens, engraved labels)
  micro        Micro QR M1-M4
  document     a code among lines of text on a printed page
  screen       a code on a phone / monitor: pixel grid, glare, gamma, moire

Ground truth per code: the 4 outer corners of the module grid clockwise from the code's
own top-left (pixel centres at integers), the payload, format, version, EC level.
`negative_scene` gives code-free scenes with code-like texture (text, tiles, grids,
checkerboards, 1-D barcodes, photos) for counting false reports, split "dev" / "test" / "fresh"
("fresh": its own seed stream, kept for a judgement on negatives no earlier run has seen).

Scenes are deterministic in (split, factor, index); "dev" and "test" never share a seed.
"""

from __future__ import annotations

import functools
import os
import string
from typing import NamedTuple

import numpy as np

from jaxvis.errors import InputError

FACTORS = ("small", "large", "sheet", "dense", "perspective", "blur", "jpeg", "light", "occlusion",
           "inverted", "micro", "document", "screen")
SPLITS = ("dev", "test")
NEGATIVE_SPLITS = ("dev", "test", "fresh")
NEGATIVE_KINDS = ("text", "tiles", "grid", "checker", "barcodes", "photo")
SS = 2   # supersampling of the render


class Code(NamedTuple):
  """One code of a held-out scene.

  Attributes:
    corners: (4, 2) float32 (x, y), clockwise from the code's own top-left.
    payload: the text.
    format: "QR" or "Micro QR".
    version: 1-40, or 1-4 for Micro QR.
    ec_level: "L", "M", "Q" or "H".
  """
  corners: np.ndarray
  payload: str
  format: str
  version: int
  ec_level: str


class HeldoutScene(NamedTuple):
  """Attributes: image (H, W, 3) uint8 RGB; codes [Code]; factor; split; index."""
  image: np.ndarray
  codes: list
  factor: str
  split: str
  index: int


# seed streams: scenes of each split, then code-free negatives of each split ("negative" is the
# test negatives' stream from before negatives had a split, kept so that their images stay the same;
# "negative-fresh" was added last, so the earlier streams' seeds are unchanged)
_STREAMS = SPLITS + ("negative", "negative-dev", "negative-fresh")
_NEGATIVE_STREAMS = {"test": "negative", "dev": "negative-dev", "fresh": "negative-fresh"}


def _rng(split: str, factor: str, index: int) -> np.random.Generator:
  if split not in _STREAMS:
    raise InputError("split", f"expected one of {SPLITS}, got {split!r}")
  if not 0 <= index < 1_000_000:
    raise InputError("index", f"expected in [0, 1000000), got {index}")
  kinds = FACTORS + NEGATIVE_KINDS
  if factor not in kinds:
    raise InputError("factor", f"expected one of {FACTORS}, got {factor!r}")
  return np.random.default_rng([7919, _STREAMS.index(split), kinds.index(factor), index])


# ----------------------------------------------------------------------------- payloads


def _payload(rng, kind: str | None = None, micro: bool = False) -> str:
  if micro:
    n = int(rng.integers(1, 4))
    if n == 1:
      return "".join(rng.choice(list(string.digits), int(rng.integers(3, 21))))
    if n == 2:
      return "".join(rng.choice(list(string.ascii_uppercase + string.digits + " $%*+-./:"),
                                int(rng.integers(3, 13)))).strip() or "A1"
    return "".join(rng.choice(list(string.ascii_letters + string.digits), int(rng.integers(3, 9))))
  kind = kind or str(rng.choice(["url", "wifi", "vcard", "serial", "latin", "japanese", "number"],
                                p=[0.3, 0.12, 0.08, 0.2, 0.12, 0.06, 0.12]))
  word = lambda k: "".join(rng.choice(list(string.ascii_lowercase), k))  # noqa: E731
  if kind == "url":
    q = f"?id={int(rng.integers(10**6))}&src={word(int(rng.integers(2, 6)))}" if rng.uniform() < 0.6 else ""
    return f"https://{word(int(rng.integers(4, 9)))}.example/{word(int(rng.integers(1, 8)))}{q}"
  if kind == "wifi":
    return f"WIFI:S:{word(int(rng.integers(4, 10)))}_{int(rng.integers(100))};T:WPA;P:{word(10)}{int(rng.integers(999))};;"
  if kind == "vcard":
    return (f"BEGIN:VCARD\nVERSION:3.0\nN:{word(6).title()};{word(5).title()}\n"
            f"TEL:+49{int(rng.integers(10**8, 10**9))}\nEND:VCARD")
  if kind == "serial":
    return f"SN-{int(rng.integers(2000, 2030))}-{int(rng.integers(10**5, 10**6))}-{word(3).upper()}"
  if kind == "latin":
    return str(rng.choice(["Grüße aus Köln", "Café crème", "Ærøskøbing færge", "Señal número"])) + f" {int(rng.integers(100))}"
  if kind == "japanese":
    return str(rng.choice(["価格 ", "東京駅 出口 ", "会議室 "])) + str(int(rng.integers(1, 999)))
  return "".join(rng.choice(list(string.digits), int(rng.integers(6, 40))))


def _symbol(rng, micro: bool = False, version: int | None = None, error: str | None = None,
            kind: str | None = None):
  """(matrix (n, n) 1 = dark, payload, format, version, EC level) of a fresh segno symbol."""
  import segno
  for _ in range(20):
    text = _payload(rng, kind, micro)
    try:
      if micro:
        q = segno.make_micro(text, error=error or str(rng.choice(["l", "m"])), boost_error=False)
      else:
        if version is not None:   # a long enough payload for the version
          text = text + " " + "".join(rng.choice(list(string.ascii_letters + string.digits), 4 * version * version))
          text = text[:int(rng.integers(4, 7)) * version * version // 2]
        q = segno.make(text, error=error or str(rng.choice(list("lmqh"))), version=version, micro=False,
                       boost_error=False)
    except Exception:   # payload too long for the forced version / micro: draw again
      continue
    v = str(q.version)
    return (np.asarray(q.matrix, np.uint8), text, "Micro QR" if q.is_micro else "QR",
            int(v.lstrip("M")), str(q.error).upper())
  raise RuntimeError("no symbol fits")   # pragma: no cover


# ----------------------------------------------------------------------------- textures


@functools.lru_cache(maxsize=1)
def _font_paths() -> tuple:
  import matplotlib
  folder = os.path.join(matplotlib.get_data_path(), "fonts", "ttf")
  return tuple(os.path.join(folder, f) for f in ("STIXGeneral.ttf", "cmr10.ttf", "STIXGeneralBol.ttf", "cmtt10.ttf"))


def _font(path: str, size: int):
  from PIL import ImageFont
  return ImageFont.truetype(path, size)


def _text_block(rng, w: int, h: int, ink: float, paper: np.ndarray, size: int) -> np.ndarray:
  """Lines of random words on paper: (h, w, 3) float."""
  from PIL import Image, ImageDraw
  img = Image.new("RGB", (w, h), tuple(int(v) for v in paper))
  d = ImageDraw.Draw(img)
  font = _font(_font_paths()[int(rng.integers(len(_font_paths())))], size)
  y = int(rng.integers(0, size))
  while y < h - size:
    x = int(rng.integers(0, size))
    while x < w - size:
      word = "".join(rng.choice(list(string.ascii_letters), int(rng.integers(2, 10))))
      d.text((x, y), word, fill=(int(ink),) * 3, font=font)
      x += int(d.textlength(word + " ", font=font))
    y += int(size * rng.uniform(1.3, 1.8))
  return np.asarray(img, np.float32)


def _code_tile(matrix, module: int, quiet: int, dark, light):
  """(texture (T, T, 3) float, corners (4, 2) in texture pixels) of a code with its quiet zone."""
  n = matrix.shape[0]
  padded = np.pad(matrix, quiet)
  tile = np.repeat(np.repeat(padded, module, 0), module, 1).astype(np.float32)[..., None]
  tex = light + tile * (np.asarray(dark, np.float32) - np.asarray(light, np.float32))
  a, b = quiet * module - 0.5, (quiet + n) * module - 0.5
  return tex, np.array([[a, a], [b, a], [b, b], [a, b]], np.float32)


def _background(rng, h: int, w: int) -> np.ndarray:
  """A desk, fabric, wood or photo background (h, w, 3) float."""
  import cv2
  kind = int(rng.integers(4))
  if kind == 0:   # wood: stretched noise rings
    n = cv2.resize(rng.uniform(0, 1, (8, 64)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    grain = np.sin(n * rng.uniform(20, 50)) * 0.5 + 0.5
    base = np.array([rng.uniform(110, 180), rng.uniform(70, 120), rng.uniform(30, 70)], np.float32)
    return base * (0.75 + 0.35 * grain[..., None])
  if kind == 1:   # woven fabric
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    p = rng.uniform(3, 9)
    weave = (np.sin(xx * np.pi / p) * np.sin(yy * np.pi / p)) * 0.5 + 0.5
    base = rng.uniform(40, 220, 3).astype(np.float32)
    return base * (0.8 + 0.25 * weave[..., None])
  if kind == 2:   # a plain desk with a vignette and noise
    base = rng.uniform(60, 230, 3).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.hypot((xx - w / 2) / w, (yy - h / 2) / h)
    return base * (1 - 0.5 * r[..., None]) + rng.normal(0, 4, (h, w, 1)).astype(np.float32)
  return _photo(rng, h, w)


@functools.lru_cache(maxsize=1)
def _photos() -> tuple:
  """Photos none of the training generators uses."""
  from skimage import data
  from sklearn.datasets import load_sample_images
  flower = load_sample_images().images[1]

  def rgb(a):
    a = np.asarray(a)
    return np.repeat(a[..., None], 3, -1) if a.ndim == 2 else a[..., :3]
  return tuple(np.ascontiguousarray(rgb(p)).astype(np.uint8) for p in
               (data.cat(), data.cell(), data.colorwheel(), data.coins(), data.gravel(), data.retina(), flower,
                data.moon(), data.horse().astype(np.uint8) * 255))


def _photo(rng, h: int, w: int) -> np.ndarray:
  import cv2
  p = _photos()[int(rng.integers(len(_photos())))]
  zoom = rng.uniform(1.0, 1.8)
  ch, cw = max(8, int(p.shape[0] / zoom)), max(8, int(p.shape[1] / zoom))
  y, x = int(rng.integers(0, p.shape[0] - ch + 1)), int(rng.integers(0, p.shape[1] - cw + 1))
  return cv2.resize(p[y:y + ch, x:x + cw], (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)


# ----------------------------------------------------------------------------- geometry


def _pose(rng, tex_w: float, tex_h: float, side: float, center, tilt, roll: float | None = None):
  """Homography (texture -> canvas) of a planar texture seen by a pinhole camera.

  The texture's larger side spans `side` canvas pixels when facing the camera; the plane is
  turned by up to `tilt` degrees (or a (min, max) range) about a random axis in it, rolled by
  `roll` degrees (random if None).
  """
  import cv2
  s = side / max(tex_w, tex_h)
  pts = np.array([[0, 0], [tex_w, 0], [tex_w, tex_h], [0, tex_h]], np.float64) - (tex_w / 2, tex_h / 2)
  world = np.c_[pts * s, np.zeros(4)]
  lo, hi = (0.0, tilt) if np.isscalar(tilt) else tilt
  a = np.deg2rad(rng.uniform(lo, hi))
  axis = rng.uniform(0, np.pi)
  u = np.array([np.cos(axis), np.sin(axis), 0.0])
  kx = np.array([[0, -u[2], u[1]], [u[2], 0, -u[0]], [-u[1], u[0], 0]])
  r = np.eye(3) + np.sin(a) * kx + (1 - np.cos(a)) * kx @ kx
  t = np.deg2rad(rng.uniform(0, 360) if roll is None else roll)
  rz = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
  p = world @ (r @ rz).T
  focal = side * rng.uniform(1.6, 3.0)
  proj = focal * p[:, :2] / (focal + p[:, 2:3]) + np.asarray(center, np.float64)
  src = np.array([[-0.5, -0.5], [tex_w - 0.5, -0.5], [tex_w - 0.5, tex_h - 0.5], [-0.5, tex_h - 0.5]], np.float32)
  return cv2.getPerspectiveTransform(src, proj.astype(np.float32))


def _project(h, pts) -> np.ndarray:
  import cv2
  return cv2.perspectiveTransform(np.asarray(pts, np.float32)[None], h)[0]


def _paint(canvas, texture, h, alpha=None):
  """Composites `texture` warped by `h` (texture -> canvas) onto `canvas` (in place)."""
  import cv2
  size = (canvas.shape[1], canvas.shape[0])
  warped = cv2.warpPerspective(texture, h, size, flags=cv2.INTER_LINEAR)
  mask = np.ones(texture.shape[:2], np.float32) if alpha is None else alpha
  m = cv2.warpPerspective(mask, h, size, flags=cv2.INTER_LINEAR)[..., None]
  canvas[:] = canvas * (1 - m) + warped * m


def _fits(corners_list, h: int, w: int, pad: float = 2) -> bool:
  return all((c >= pad).all() and (c[:, 0] <= w - 1 - pad).all() and (c[:, 1] <= h - 1 - pad).all()
             for c in corners_list)


def _to_final(c: np.ndarray) -> np.ndarray:
  """Supersampled canvas coordinates -> final image (pixel centres at integers)."""
  return ((np.asarray(c, np.float32) + 0.5) / SS - 0.5).astype(np.float32)


# ----------------------------------------------------------------------------- effects


def _defocus(img, radius: float):
  import cv2
  r = max(1, int(np.ceil(radius)))
  yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
  k = (np.hypot(yy, xx) <= radius + 0.5).astype(np.float32)
  return cv2.filter2D(img, -1, k / k.sum())


def _motion(img, length: float, angle: float):
  import cv2
  n = max(3, int(length) | 1)
  k = np.zeros((n, n), np.float32)
  k[n // 2] = 1
  m = cv2.getRotationMatrix2D((n / 2 - 0.5, n / 2 - 0.5), angle, 1.0)
  k = cv2.warpAffine(k, m, (n, n))
  return cv2.filter2D(img, -1, k / max(k.sum(), 1e-6))


def _jpeg(img, quality: int):
  import cv2
  ok, buf = cv2.imencode(".jpg", np.clip(img, 0, 255).astype(np.uint8)[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
  return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32)


def _light(rng, img, strength: float):
  """A spotlight and a soft- or hard-edged shadow."""
  import cv2
  h, w = img.shape[:2]
  yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
  cx, cy = rng.uniform(0, w), rng.uniform(0, h)
  spot = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * (rng.uniform(0.3, 0.8) * max(h, w)) ** 2))
  gain = (1 - strength) + strength * 1.3 * spot
  if rng.uniform() < 0.7:   # a shadow with a straight edge
    a = rng.uniform(0, np.pi)
    d = (xx - rng.uniform(0, w)) * np.cos(a) + (yy - rng.uniform(0, h)) * np.sin(a)
    edge = cv2.GaussianBlur((d > 0).astype(np.float32), (0, 0), rng.uniform(0.5, 6))
    gain = gain * (1 - edge * rng.uniform(0.3, 0.65) * strength / 0.6)
  return img * gain[..., None]


def _finish(rng, img, blur=0.0, noise=(1.0, 5.0), jpeg=None):
  """Mild camera effects on the final-size image -> uint8."""
  import cv2
  if blur > 0.25:
    img = cv2.GaussianBlur(img, (0, 0), blur)
  img = img + rng.normal(0, rng.uniform(*noise), img.shape).astype(np.float32)
  if jpeg:
    img = _jpeg(img, jpeg)
  return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _downsample(canvas):
  import cv2
  h, w = canvas.shape[:2]
  return cv2.resize(canvas, (w // SS, h // SS), interpolation=cv2.INTER_AREA)


# ----------------------------------------------------------------------------- scenes


def _colors(rng, inverted: bool = False, contrast=(0.6, 1.0)):
  c = rng.uniform(*contrast)
  light = rng.uniform(200, 250, 3)
  dark = light - c * rng.uniform(150, 200) - rng.uniform(0, 20, 3)
  dark = np.clip(dark, 0, 255)
  return (light, dark) if inverted else (dark, light)


def _single_codes(rng, canvas, count: int, side_px, tilt, *, micro=False, version=None, error=None,
                  inverted=False, contrast=(0.6, 1.0), ground=True):
  """Stickers with one code each, placed without overlap; returns [Code] (canvas coordinates)."""
  H, W = canvas.shape[:2]
  codes, taken = [], []
  for _ in range(count):
    matrix, text, fmt, ver, ec = _symbol(rng, micro=micro, version=version, error=error)
    n = matrix.shape[0]
    quiet = 2 if micro else 4
    side = rng.uniform(*side_px) * SS   # the code's side (quiet zone excluded)
    module = max(2, int(np.ceil(1.5 * side / n)))
    dark, light = _colors(rng, inverted, contrast)
    tex, corners = _code_tile(matrix, module, quiet + int(rng.integers(0, 3)), dark, light)
    for attempt in range(40):
      if attempt and attempt % 8 == 0:   # a code too large for the free space: shrink it a little
        side *= 0.9
      centre = (rng.uniform(0.1, 0.9) * W, rng.uniform(0.1, 0.9) * H)
      hom = _pose(rng, tex.shape[1], tex.shape[0], side * tex.shape[0] / (n * module), centre, tilt)
      outline = _project(hom, [[0, 0], [tex.shape[1], 0], [tex.shape[1], tex.shape[0]], [0, tex.shape[0]]])
      box = np.r_[outline.min(0), outline.max(0)]
      if not _fits([outline], H, W) or any(not (box[2] < b[0] or b[2] < box[0] or box[3] < b[1] or b[3] < box[1])
                                          for b in taken):
        continue
      if ground and rng.uniform() < 0.5:   # a drop shadow under the sticker
        shadow = np.zeros_like(tex)
        _paint(canvas, shadow, np.array([[1, 0, 3 * SS], [0, 1, 3 * SS], [0, 0, 1]]) @ hom,
               alpha=np.full(tex.shape[:2], 0.35, np.float32))
      _paint(canvas, tex, hom)
      taken.append(box)
      codes.append(Code(_project(hom, corners), text, fmt, ver, ec))
      break
  return codes


def _sheet(rng, canvas, count: int, tilt: float):
  """A printed sheet of `count` codes in a grid, seen at an angle."""
  cols = int(np.ceil(np.sqrt(count * 1.33)))
  rows = int(np.ceil(count / cols))
  cell = 200
  paper = rng.uniform(225, 250, 3)
  tex = np.ones((rows * cell + 40, cols * cell + 40, 3), np.float32) * paper
  entries = []
  for k in range(count):
    matrix, text, fmt, ver, ec = _symbol(rng, kind=str(rng.choice(["serial", "url", "number"])), error="m")
    n = matrix.shape[0]
    module = max(3, int(140 / (n + 8)))
    tile, corners = _code_tile(matrix, module, 4, (20, 20, 20), paper)
    r, c = divmod(k, cols)
    y0 = 20 + r * cell + (cell - tile.shape[0]) // 2
    x0 = 20 + c * cell + (cell - tile.shape[1]) // 2
    tex[y0:y0 + tile.shape[0], x0:x0 + tile.shape[1]] = tile
    entries.append((corners + (x0, y0), text, fmt, ver, ec))
  H, W = canvas.shape[:2]
  for _ in range(60):
    side = rng.uniform(0.6, 0.95) * min(W, H * tex.shape[1] / tex.shape[0])
    hom = _pose(rng, tex.shape[1], tex.shape[0], side, (W / 2 + rng.uniform(-0.05, 0.05) * W,
                                                       H / 2 + rng.uniform(-0.05, 0.05) * H), tilt,
                roll=rng.uniform(-12, 12))
    outline = _project(hom, [[0, 0], [tex.shape[1], 0], [tex.shape[1], tex.shape[0]], [0, tex.shape[0]]])
    if _fits([outline], H, W, pad=0):
      break
  _paint(canvas, tex, hom)
  return [Code(_project(hom, c), t, f, v, e) for c, t, f, v, e in entries]


def _page(rng, canvas, tilt: float, inverted_screen: bool = False, screen: bool = False):
  """A text page (or a screen) with one code, seen at an angle."""
  pw, ph = (int(rng.integers(700, 900)), int(rng.integers(900, 1200))) if not screen else \
           (int(rng.integers(900, 1300)), int(rng.integers(600, 800)))
  paper = rng.uniform(215, 250, 3) if not inverted_screen else rng.uniform(10, 45, 3)
  ink = rng.uniform(10, 70) if not inverted_screen else rng.uniform(190, 240)
  tex = _text_block(rng, pw, ph, ink, paper, int(rng.integers(14, 26)))
  matrix, text, fmt, ver, ec = _symbol(rng)
  n = matrix.shape[0]
  module = int(rng.integers(3, 8))
  # ink-coloured modules on the page colour: on a dark page that is an inverted code
  tile, corners = _code_tile(matrix, module, 4, np.full(3, ink), paper)
  th, tw = tile.shape[:2]
  y0, x0 = int(rng.integers(0, max(1, ph - th))), int(rng.integers(0, max(1, pw - tw)))
  tile = tile[:ph - y0, :pw - x0]
  tex[y0:y0 + tile.shape[0], x0:x0 + tile.shape[1]] = tile
  code_corners = corners + (x0, y0)
  if screen:   # an LCD: pixel grid (dark gaps between the sub-pixel columns) and glare
    grid = np.ones((ph, pw, 3), np.float32)
    grid[:, 2::3] *= 0.7
    grid[2::3] *= 0.75
    tex = tex * grid
  H, W = canvas.shape[:2]
  for _ in range(60):
    side = rng.uniform(0.9, 1.6) * max(W, H)
    centre = (W / 2 + rng.uniform(-0.3, 0.3) * W, H / 2 + rng.uniform(-0.3, 0.3) * H)
    hom = _pose(rng, pw, ph, side, centre, tilt, roll=rng.uniform(-25, 25))
    # keep the code itself well inside the view
    cc = _project(hom, code_corners)
    if _fits([cc], H, W, pad=12 * SS):
      break
  _paint(canvas, tex, hom)
  if screen:
    h, w = canvas.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    glare = np.exp(-((xx - rng.uniform(0, w)) ** 2 + (yy - rng.uniform(0, h)) ** 2) / (2 * (0.25 * w) ** 2))
    canvas += glare[..., None] * rng.uniform(20, 90)
    canvas[:] = 255.0 * (np.clip(canvas, 0, 255) / 255.0) ** rng.uniform(0.7, 1.4)
  return [Code(cc, text, fmt, ver, ec)]


def _occlude(rng, canvas, code: Code):
  """A finger, a sticker or pen strokes over part of the code (never over all three finders)."""
  import cv2
  c = code.corners
  side = float(np.linalg.norm(c[1] - c[0]))
  centre = c.mean(0)
  kind = int(rng.integers(3))
  # aim at the bottom-right quadrant, away from the finder patterns
  target = centre + (c[2] - centre) * rng.uniform(0.1, 0.6)
  if kind == 0:   # a fingertip
    col = np.array([rng.uniform(170, 230), rng.uniform(120, 170), rng.uniform(100, 140)])
    axes = (int(side * rng.uniform(0.12, 0.2)), int(side * rng.uniform(0.3, 0.6)))
    mask = np.zeros(canvas.shape[:2], np.float32)
    cv2.ellipse(mask, (int(target[0]), int(target[1])), axes, rng.uniform(0, 180), 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 2 * SS)[..., None]
    canvas[:] = canvas * (1 - mask) + col * mask
  elif kind == 1:   # a sticker / label
    s = side * rng.uniform(0.15, 0.25)
    pts = (np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * s / 2 @
           np.array([[np.cos(a := rng.uniform(0, 3)), np.sin(a)], [-np.sin(a), np.cos(a)]]) + target)
    cv2.fillConvexPoly(canvas, pts.astype(np.int32), tuple(float(v) for v in rng.uniform(60, 255, 3)))
  else:   # pen strokes
    for _ in range(int(rng.integers(2, 5))):
      p0 = target + rng.uniform(-0.25, 0.25, 2) * side
      p1 = p0 + rng.uniform(-0.3, 0.3, 2) * side
      cv2.line(canvas, tuple(int(v) for v in p0), tuple(int(v) for v in p1),
               tuple(float(v) for v in rng.uniform(0, 120, 3)), int(max(2, side * 0.02)))


def make_scene(factor: str, index: int, split: str = "test") -> HeldoutScene:
  """Scene `index` of `split` stressing `factor` (deterministic)."""
  rng = _rng(split, factor, index)
  H, W = (480, 640) if factor != "sheet" else (600, 800)
  canvas = _background(rng, H * SS, W * SS)
  blur, noise, jpeg = rng.uniform(0, 0.6), (1.0, 4.0), (int(rng.integers(60, 95)) if rng.uniform() < 0.5 else None)
  tilt = 25.0
  if factor == "small":
    codes = _single_codes(rng, canvas, int(rng.integers(1, 4)), (26, 54), tilt)
    blur = rng.uniform(0, 0.4)
  elif factor == "large":
    codes = _single_codes(rng, canvas, 1, (150, 360), tilt)
  elif factor == "sheet":
    codes = _sheet(rng, canvas, int(rng.integers(12, 31)), 40.0)
    blur = rng.uniform(0.3, 1.0)
  elif factor == "dense":
    codes = _single_codes(rng, canvas, int(rng.integers(1, 3)), (70, 170), tilt, version=int(rng.integers(7, 11)))
  elif factor == "perspective":
    codes = _single_codes(rng, canvas, int(rng.integers(1, 3)), (90, 200), (45.0, 68.0))
  elif factor == "blur":
    codes = _single_codes(rng, canvas, int(rng.integers(1, 3)), (60, 160), tilt)
  elif factor == "jpeg":
    codes = _single_codes(rng, canvas, int(rng.integers(1, 3)), (50, 140), tilt)
  elif factor == "light":
    codes = _single_codes(rng, canvas, int(rng.integers(1, 3)), (60, 170), tilt, contrast=(0.25, 0.6))
    canvas = _light(rng, canvas, rng.uniform(0.4, 0.8))
  elif factor == "occlusion":
    codes = _single_codes(rng, canvas, int(rng.integers(1, 3)), (80, 200), tilt, error=str(rng.choice(["q", "h"])))
    for c in codes:
      _occlude(rng, canvas, c)
  elif factor == "inverted":
    if rng.uniform() < 0.5:
      codes = _page(rng, canvas, 30.0, inverted_screen=True, screen=bool(rng.uniform() < 0.5))
    else:
      codes = _single_codes(rng, canvas, int(rng.integers(1, 3)), (60, 170), tilt, inverted=True)
  elif factor == "micro":
    codes = _single_codes(rng, canvas, int(rng.integers(1, 4)), (30, 90), tilt, micro=True)
  elif factor == "document":
    codes = _page(rng, canvas, 50.0)
    blur = rng.uniform(0.2, 1.0)
  elif factor == "screen":
    codes = _page(rng, canvas, 35.0, screen=True)
  else:   # pragma: no cover (checked by _rng)
    raise InputError("factor", factor)
  img = _downsample(canvas)
  if factor == "blur":
    img = _defocus(img, rng.uniform(1.0, 2.6)) if rng.uniform() < 0.5 else \
        _motion(img, rng.uniform(4, 10), rng.uniform(0, 180))
    blur = 0.0
  if factor == "jpeg":
    s = rng.uniform(0.55, 0.85)
    import cv2
    small = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    img = cv2.resize(_jpeg(small, int(rng.integers(6, 23))), (W, H), interpolation=cv2.INTER_LINEAR)
    jpeg = None
  image = _finish(rng, img, blur=blur, noise=noise, jpeg=jpeg)
  codes = [c._replace(corners=_to_final(c.corners)) for c in codes]
  return HeldoutScene(image, codes, factor, split, index)


def make_scenes(per_factor: int, split: str = "test", factors=FACTORS, start: int = 0) -> list:
  """`per_factor` scenes of each factor (indices start..start+per_factor-1)."""
  return [make_scene(f, i, split) for f in factors for i in range(start, start + per_factor)]


def negative_scene(kind: str, index: int, split: str = "test") -> np.ndarray:
  """A code-free 640x480 scene with code-like texture: (H, W, 3) uint8.

  `split` "test" (the negatives every earlier figure was measured on), "dev" (its own
  seeds, for choosing thresholds) or "fresh" (its own seeds, added for rule C of docs/faces.md:
  negatives neither weight set had been run on); deterministic in (kind, index, split).
  """
  if kind not in NEGATIVE_KINDS:
    raise InputError("kind", f"expected one of {NEGATIVE_KINDS}, got {kind!r}")
  if split not in NEGATIVE_SPLITS:
    raise InputError("split", f"expected one of {NEGATIVE_SPLITS}, got {split!r}")
  rng = _rng(_NEGATIVE_STREAMS[split], kind, index)
  H, W = 480, 640
  canvas = _background(rng, H * SS, W * SS)
  if kind == "text":
    tex = _text_block(rng, 900, 1100, rng.uniform(0, 60), rng.uniform(215, 250, 3), int(rng.integers(12, 28)))
  elif kind == "tiles":
    cell = int(rng.integers(10, 40))
    ny, nx = 1100 // cell + 1, 900 // cell + 1
    cols = rng.uniform(0, 255, (ny, nx, 1)) * np.ones(3)
    tex = np.repeat(np.repeat(cols, cell, 0), cell, 1)[:1100, :900].astype(np.float32)
    tex[::cell] *= 0.4
    tex[:, ::cell] *= 0.4
  elif kind == "grid":
    tex = np.full((1100, 900, 3), rng.uniform(200, 250), np.float32)
    step = int(rng.integers(6, 24))
    tex[::step] = 20
    tex[:, ::step] = 20
    blocks = rng.uniform(size=(1100 // step + 1, 900 // step + 1)) < 0.2
    fill = np.repeat(np.repeat(blocks, step, 0), step, 1)[:1100, :900]
    tex[fill] = 30
  elif kind == "checker":
    m = int(rng.integers(4, 16))
    noise = rng.uniform(size=(1100 // m + 1, 900 // m + 1)) < 0.5
    yy, xx = np.mgrid[0:1100 // m + 1, 0:900 // m + 1]
    pattern = ((yy + xx) % 2 == 0) ^ (noise & (rng.uniform() < 0.5))
    tex = (np.repeat(np.repeat(pattern, m, 0), m, 1)[:1100, :900, None] * 220 + 20).astype(np.float32) * np.ones(3)
  elif kind == "barcodes":
    tex = np.full((1100, 900, 3), 240, np.float32)
    for r in range(6):
      x = 40
      y0 = 40 + r * 170
      while x < 860:
        wbar = int(rng.integers(2, 9))
        if rng.uniform() < 0.5:
          tex[y0:y0 + 120, x:x + wbar] = 15
        x += wbar
  else:
    tex = _photo(rng, 1100, 900)
  hom = _pose(rng, tex.shape[1], tex.shape[0], rng.uniform(1.0, 1.6) * W * SS,
              (W * SS / 2, H * SS / 2), 35.0, roll=rng.uniform(-20, 20))
  _paint(canvas, tex.astype(np.float32), hom)
  img = _downsample(canvas)
  return _finish(rng, img, blur=rng.uniform(0, 0.8), jpeg=int(rng.integers(50, 95)) if rng.uniform() < 0.5 else None)
