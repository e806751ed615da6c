"""Reading the payload of a rectified QR-code crop with OpenCV.

The crop (the code plus a margin, from `rectify.rectify`) is padded with a
light quiet zone and upscaled, then `cv2.QRCodeDetector().detectAndDecode` runs
on it as it is, then binarised (Otsu), then adaptive-thresholded (uneven
light), each also through `decode` with the code's known corners; the first
payload read wins. `detectAndDecode` also returns the code's 4 corners in the
code's own order (top-left first), which `read_crop` hands back so the caller
can refine the detector's corners with them.
"""

from __future__ import annotations

import functools

import numpy as np

from jaxvis.errors import InputError


@functools.lru_cache(maxsize=1)
def _detector():
  import cv2
  return cv2.QRCodeDetector()


def _variants(gray: np.ndarray):
  import cv2
  yield gray
  _, otsu = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
  yield otsu
  block = max(3, (gray.shape[0] // 8) | 1)
  yield cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, block, 2)


def decode_crop(crop: np.ndarray, margin: float = 0.1, scale: int = 2) -> str | None:
  """The payload of one rectified crop, or None (see `read_crop`)."""
  return read_crop(crop, margin, scale)[0]


def read_crop(crop: np.ndarray, margin: float = 0.1, scale: int = 2):
  """(payload or None, the code's corners found by OpenCV in crop pixels (4, 2) or None).

  Args:
    crop: (S, S) grayscale or (S, S, 3) RGB, values 0..255.
    margin: the margin the crop was rectified with (where the code's corners lie).
    scale: upscaling factor before decoding.
  """
  import cv2
  crop = np.asarray(crop, np.float32)
  if crop.ndim == 3:
    crop = crop[..., 0] * 0.299 + crop[..., 1] * 0.587 + crop[..., 2] * 0.114
  if crop.ndim != 2 or crop.shape[0] != crop.shape[1]:
    raise InputError("crop", f"expected a square (S, S) or (S, S, 3) image, got shape {crop.shape}")
  s = crop.shape[0]
  gray = np.clip(np.round(crop), 0, 255).astype(np.uint8)
  pad = int(round(0.15 * s))
  light = int(np.percentile(gray, 90))
  gray = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=light)
  gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
  a, b = (margin * s - 0.5 + pad) * scale, (s - 0.5 - margin * s + pad) * scale
  corners = np.array([[[a, a], [b, a], [b, b], [a, b]]], np.float32)
  det = _detector()
  for img in _variants(gray):
    text, points, _ = det.detectAndDecode(img)
    if text:
      pts = None if points is None else np.asarray(points, np.float32).reshape(4, 2) / scale - pad
      return text, pts
    try:
      text, _ = det.decode(img, corners)
    except Exception:  # OpenCV rejects some point sets; the other variants still run
      text = ""
    if text:
      return text, None
  return None, None
