"""Decoding QR and Micro QR codes with zxing-cpp: whole images and crops around detections.

`zxing_find(gray)` runs `zxingcpp.read_barcodes` (QR + Micro QR, any rotation,
downscaled and inverted variants tried) and returns every symbol it located:
decoded ones (`Found.error is None`) and, with `errors=True`, symbols whose
finder patterns and format information were read but whose data failed
Reed-Solomon correction (`Found.error` = "Checksum", ...), with their corners.

`read_region(gray, quad, box)` reads one detected code from two crops: the
quadrilateral rectified onto an upright square (`rectify_crop`, up-sampled
so that a small or dense code gets several pixels per module) and the
axis-aligned box around it, enlarged and up-sampled (robust to corners that
are a few pixels off: zxing then finds the code's perspective itself); when
both fail, binarised and sharpened variants of the box crop, a larger box
crop, and the quadrilateral shrunk / grown by 8%. Found corners are mapped
back to image pixels.

Coordinates: pixel centres at integers, corners on the code's outer edge,
clockwise from the code's own top-left (as the scene generators' truth).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from jaxvis.errors import InputError


class Found(NamedTuple):
  """One symbol zxing-cpp located.

  Attributes:
    text: the payload as text (zxing's HRI transcoding), "" when not decoded.
    raw: the payload bytes (None when not decoded).
    format: "QR" or "Micro QR".
    version: 1-40 (QR) or 1-4 (Micro QR, M1-M4), None if unknown.
    ec_level: "L", "M", "Q" or "H" (None if unknown).
    corners: (4, 2) float32 (x, y), clockwise from the code's own top-left.
    error: None when decoded, else zxing's error type ("Checksum", "Format", "Unsupported").
  """
  text: str
  raw: bytes | None
  format: str
  version: int | None
  ec_level: str | None
  corners: np.ndarray
  error: str | None

  @property
  def decoded(self) -> bool:
    return self.error is None


@functools.lru_cache(maxsize=1)
def _formats():
  import zxingcpp
  return (zxingcpp.BarcodeFormat.QRCode, zxingcpp.BarcodeFormat.MicroQRCode)


def _binarizers():
  import zxingcpp
  return {"local": zxingcpp.Binarizer.LocalAverage, "global": zxingcpp.Binarizer.GlobalHistogram,
          "fixed": zxingcpp.Binarizer.FixedThreshold}


def _version(extra: dict) -> int | None:
  v = str(extra.get("Version", "")).lstrip("Mm")
  return int(v) if v.isdigit() else None


def _convert(b) -> Found:
  p = b.position
  # zxing's points are pixel-edge coordinates; ours put pixel centres at integers
  corners = np.array([[q.x, q.y] for q in (p.top_left, p.top_right, p.bottom_right, p.bottom_left)],
                     np.float32) - 0.5
  extra = dict(b.extra or {})
  error = None if b.valid else (str(b.error.type).rsplit(".", 1)[-1] if b.error is not None else "Unknown")
  fmt = "Micro QR" if "Micro" in str(b.format) else "QR"
  ec = extra.get("ECLevel") or (b.ec_level or None)
  return Found(text=b.text if b.valid else "", raw=bytes(b.bytes) if b.valid else None, format=fmt,
               version=_version(extra), ec_level=ec, corners=corners, error=error)


def as_gray(image: np.ndarray, name: str = "image") -> np.ndarray:
  """(H, W) uint8 luma of an (H, W) or (H, W, 3) RGB array in [0, 255] (ITU-R 601, as OpenCV)."""
  import cv2
  a = np.asarray(image)
  if a.ndim == 3 and a.shape[-1] == 3:
    if a.dtype != np.uint8:
      a = np.clip(np.rint(a), 0, 255).astype(np.uint8)
    return cv2.cvtColor(a, cv2.COLOR_RGB2GRAY)
  if a.ndim == 2:
    return a if a.dtype == np.uint8 else np.clip(np.rint(a), 0, 255).astype(np.uint8)
  raise InputError(name, f"expected (H, W) gray or (H, W, 3) RGB, got shape {a.shape}")


def zxing_find(gray: np.ndarray, errors: bool = False, binarizer: str = "local",
               invert: bool = True) -> list[Found]:
  """Every QR / Micro QR symbol zxing-cpp locates in an (H, W) uint8 image.

  Args:
    gray: (H, W) uint8.
    errors: also return located symbols whose data could not be decoded.
    binarizer: "local" (zxing's default), "global" or "fixed".
    invert: also try the inverted image (light-on-dark codes).
  """
  import zxingcpp
  gray = np.ascontiguousarray(gray, np.uint8)
  if gray.ndim != 2 or min(gray.shape) < 1:
    raise InputError("gray", f"expected a non-empty (H, W) uint8 image, got shape {gray.shape}")
  found = zxingcpp.read_barcodes(gray, formats=_formats(), try_rotate=True, try_downscale=True,
                                 try_invert=invert, binarizer=_binarizers()[binarizer],
                                 return_errors=errors)
  return [_convert(b) for b in found]


# ------------------------------------------------------------------ crops around one detection


def rectify_crop(gray: np.ndarray, quad: np.ndarray, side: int, margin: float):
  """The quadrilateral warped onto an upright `side` x `side` code plus `margin` (fraction of
  the code side) on each side -> (crop, 3x3 homography crop -> image)."""
  import cv2
  pad = margin * side
  a, b = pad - 0.5, pad + side - 0.5
  square = np.array([[a, a], [b, a], [b, b], [a, b]], np.float32)
  h = cv2.getPerspectiveTransform(square, np.asarray(quad, np.float32))
  size = int(round(side + 2 * pad))
  light = int(np.percentile(gray, 90))
  crop = cv2.warpPerspective(gray, h, (size, size), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=light)
  return crop, h


def box_crop(gray: np.ndarray, box, grow: float, target: float, max_scale: float = 4.0):
  """The box enlarged by `grow` of its side on each side, scaled so its code side is about
  `target` pixels (up to `max_scale`, never down) -> (crop, scale, (x0, y0))."""
  import cv2
  x1, y1, x2, y2 = (float(v) for v in box)
  side = max(x2 - x1, y2 - y1, 1.0)
  g = grow * side + 4
  h, w = gray.shape
  x0, y0 = max(0, int(np.floor(x1 - g))), max(0, int(np.floor(y1 - g)))
  xe, ye = min(w, int(np.ceil(x2 + g)) + 1), min(h, int(np.ceil(y2 + g)) + 1)
  crop = gray[y0:ye, x0:xe]
  scale = float(np.clip(target / side, 1.0, max_scale))
  if scale > 1.01 and crop.size:
    crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
  return crop, scale, (x0, y0)


def _map_points(points: np.ndarray, h: np.ndarray) -> np.ndarray:
  import cv2
  return cv2.perspectiveTransform(np.asarray(points, np.float32)[None], h)[0]


def _variants(crop: np.ndarray):
  """Binarised and sharpened versions of a crop, for codes the plain crop does not give."""
  import cv2
  _, otsu = cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
  yield otsu, "fixed"
  blur = cv2.GaussianBlur(crop, (0, 0), 2.0)
  sharp = cv2.addWeighted(crop, 2.0, blur, -1.0, 0)
  yield sharp, "local"
  yield crop, "global"
  block = max(3, (min(crop.shape) // 6) | 1)
  yield cv2.adaptiveThreshold(crop, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, 2), "fixed"


class RegionReading(NamedTuple):
  """What `read_region` found around one detection, in image pixels."""
  decoded: list      # [Found] decoded symbols
  located: list      # [Found] located but undecodable symbols


def read_region(gray: np.ndarray, quad: np.ndarray | None, box, *, min_side: float = 150.0,
                max_side: float = 480.0, margin: float = 0.3, grow: float = 0.35,
                variants: bool = True) -> RegionReading:
  """Reads the code a detection points at (see the module doc).

  Args:
    gray: (H, W) uint8 image.
    quad: (4, 2) the detection's corners clockwise (None: the box crop only).
    box: (x1, y1, x2, y2) the detection's box.
    min_side, max_side: the code side the crops are scaled to (pixels; never shrunk below
      the image's own resolution for the box crop).
    margin: rectified crop margin, a fraction of the code side (room for short corners).
    grow: box crop enlargement, a fraction of the box side on each side.
    variants: try binarised / sharpened box crops when the plain crops fail.
  """
  located: list[Found] = []

  def attempt(img, to_image, binarizer="local", errors=True):
    found = zxing_find(img, errors=errors, binarizer=binarizer)
    mapped = [f._replace(corners=to_image(f.corners)) for f in found]
    dec = [f for f in mapped if f.decoded]
    located.extend(f for f in mapped if not f.decoded)
    return dec

  if quad is not None:
    quad = np.asarray(quad, np.float32)
    side_img = float(np.mean(np.linalg.norm(quad - np.roll(quad, -1, 0), axis=1)))
    side = int(np.clip(2.0 * side_img, min_side, max(max_side, side_img)))
    crop, h = rectify_crop(gray, quad, side, margin)
    dec = attempt(crop, lambda p: _map_points(p, h))
    if dec:
      return RegionReading(dec, located)
  crop, scale, (x0, y0) = box_crop(gray, box, grow, target=min_side * 1.3)

  def from_box(p):
    return (np.asarray(p, np.float32) + 0.5) / scale - 0.5 + np.array([x0, y0], np.float32)

  if crop.size == 0:
    return RegionReading([], located)
  dec = attempt(crop, from_box)
  if dec or not variants:
    return RegionReading(dec, located)
  for img, binarizer in _variants(crop):
    dec = attempt(img, from_box, binarizer, errors=False)
    if dec:
      return RegionReading(dec, located)
  # Last tries for small, soft codes: a larger box crop, and the quad shrunk / grown by 8% (the
  # net's corners are often a few pixels off), each plain and sharpened.
  crop, scale, (x0, y0) = box_crop(gray, box, grow, target=min_side * 2.1, max_scale=6.0)
  for img in (crop, _sharpen(crop)):
    dec = attempt(img, from_box, errors=False)
    if dec:
      return RegionReading(dec, located)
  if quad is not None:
    centre = quad.mean(0)
    for s in (0.92, 1.08):
      crop, h = rectify_crop(gray, centre + (quad - centre) * s, 2 * int(min_side), margin)
      for img in (crop, _sharpen(crop)):
        dec = attempt(img, lambda p, h=h: _map_points(p, h), errors=False)
        if dec:
          return RegionReading(dec, located)
  return RegionReading([], located)


def _sharpen(crop: np.ndarray) -> np.ndarray:
  import cv2
  return cv2.addWeighted(crop, 2.5, cv2.GaussianBlur(crop, (0, 0), 3.0), -1.5, 0)
