"""The QR reader (zxing-cpp on the image + the cascade's crops): sheets of codes, damaged codes,
input kinds, Micro QR and inverted codes. All images are 480x640 and read one per program, so the suite
compiles the detector once (plus the grown programs of the sheet test)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import segno

from jaxvis.errors import InputError
from jaxvis.faces.qr import decode, pipeline, reader


@pytest.fixture(scope="module")
def weights():
  return pipeline.load_weights()


def _code_tile(text: str, module: int, error: str = "m", border: int = 2, micro: bool = False):
  m = np.asarray(segno.make(text, error=error, micro=micro, boost_error=False).matrix, np.uint8)
  tile = cv2.resize(((1 - np.pad(m, border)) * 225 + 15).astype(np.uint8), None, fx=module, fy=module,
                    interpolation=cv2.INTER_NEAREST)
  return tile, m


def _sheet(count: int = 24, cols: int = 6, module: int = 3, seed: int = 0):
  """A printed sheet of `count` codes photographed at a slight angle, 480x640 RGB, and the payloads."""
  rng = np.random.default_rng(seed)
  cell = 29 * module + 12
  rows = -(-count // cols)
  page = np.full((rows * cell + 16, cols * cell + 16), 245, np.uint8)
  payloads = []
  for k in range(count):
    text = f"sheet-{seed}-{k:02d}-" + "".join(rng.choice(list("abcdefghjkmnpqrstuvwxyz"), int(rng.integers(0, 10))))
    tile, _ = _code_tile(text, module)
    r, c = divmod(k, cols)
    page[8 + r * cell:8 + r * cell + tile.shape[0], 8 + c * cell:8 + c * cell + tile.shape[1]] = tile
    payloads.append(text)
  h, w = page.shape
  src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
  dst = np.float32([[22, 30], [620, 8], [632, 470], [8, 440]])
  img = cv2.warpPerspective(page, cv2.getPerspectiveTransform(src, dst), (640, 480), borderValue=90)
  img = cv2.GaussianBlur(img, (0, 0), 0.7)
  return np.repeat(img[..., None], 3, -1), payloads


def _damaged(seed: int = 0):
  """A version-3 L code whose data region is scrambled beyond correction (finder patterns and format
  bits intact), in perspective on a 480x640 gray ground; and its true corners."""
  rng = np.random.default_rng(seed)
  m = np.asarray(segno.make("https://example.com/damaged/code/0123456789", error="l", micro=False,
                            boost_error=False).matrix, np.uint8).copy()
  n = m.shape[0]
  m[9:n - 8, 9:n - 9] = rng.integers(0, 2, (n - 17, n - 18))
  module = 4
  tile = cv2.resize(((1 - np.pad(m, 4)) * 220 + 20).astype(np.uint8), None, fx=module, fy=module,
                    interpolation=cv2.INTER_NEAREST)
  e0, e1 = 4 * module - 0.5, (4 + n) * module - 0.5
  src = np.float32([[e0, e0], [e1, e0], [e1, e1], [e0, e1]])
  truth = np.float32([[250, 150], [380, 160], [375, 290], [245, 280]])
  hom = cv2.getPerspectiveTransform(src, truth)
  img = cv2.warpPerspective(tile, hom, (640, 480), borderValue=128)
  return np.repeat(img[..., None], 3, -1), truth


def test_sheet_of_24_codes_all_read_without_a_cap(weights):
  image, payloads = _sheet()
  # max_codes=8 as the old fixed cap: the detector grows its slots instead of cutting the sheet short
  det = pipeline.detect_codes(weights, image[None], max_codes=8)
  assert det.valid.shape[1] > 8 and int(np.asarray(det.valid).sum()) > 8
  assert not bool(np.asarray(det.overflow).any())
  results, overflow = reader.read_codes_with_overflow(weights, [image], batch_size=1, max_codes=8)
  decoded = [c for c in results[0] if c["status"] == "decoded"]
  assert sorted(c["payload"] for c in decoded) == sorted(payloads)     # all read, once each, none wrong
  assert overflow == [False]
  for c in decoded:
    assert c["format"] == "QR" and c["version"] in (1, 2, 3) and c["ec_level"] in "LMQH"
    assert c["bytes"] == c["payload"].encode() and np.asarray(c["corners"]).shape == (4, 2)


def test_damaged_code_is_reported_unreadable_with_its_corners(weights):
  image, truth = _damaged()
  assert not [f for f in decode.zxing_find(decode.as_gray(image)) if f.decoded]
  codes = reader.read_codes(weights, [image], batch_size=1)[0]
  assert len(codes) == 1
  c = codes[0]
  assert c["status"] == "unreadable" and c["payload"] is None and c["bytes"] is None
  assert c["format"] == "QR" and c["version"] == 3
  assert np.abs(np.asarray(c["corners"]) - truth).max() < 3.0      # clockwise from the code's top-left


def test_gray_rgba_and_float_inputs_read_alike(weights):
  tile, _ = _code_tile("input kinds 123", 4, border=4)
  gray = np.full((480, 640), 200, np.uint8)
  gray[100:100 + tile.shape[0], 200:200 + tile.shape[1]] = tile
  rgb = np.repeat(gray[..., None], 3, -1)
  rgba = np.concatenate([rgb, np.full((480, 640, 1), 255, np.uint8)], -1)
  unit = rgb.astype(np.float32) / 255.0
  kinds = [rgb, gray, rgba, unit, unit * 255.0, gray.astype(np.uint16) * 257]
  results = reader.read_codes(weights, kinds, batch_size=1)
  for r in results:
    assert [c["payload"] for c in r if c["status"] == "decoded"] == ["input kinds 123"]
  with pytest.raises(InputError, match=r"images\[0\]"):
    reader.read_codes(weights, [np.full((480, 640), np.nan, np.float32)])
  with pytest.raises(InputError, match=r"images\[1\]"):
    reader.read_codes(weights, [rgb, np.zeros((3, 48, 64), np.uint8)])       # channels-first
  with pytest.raises(InputError, match="list"):
    reader.read_codes(weights, rgb)


def test_micro_qr_and_inverted_codes_are_read(weights):
  micro, _ = _code_tile("12345678", 6, error="l", border=2, micro=True)
  normal, _ = _code_tile("inverted code", 4, border=4)
  image = np.full((480, 640), 210, np.uint8)
  image[60:60 + micro.shape[0], 60:60 + micro.shape[1]] = micro
  image[200:200 + normal.shape[0], 300:300 + normal.shape[1]] = 255 - normal   # light on dark
  codes = reader.read_codes(weights, [np.repeat(image[..., None], 3, -1)], batch_size=1)[0]
  got = {c["payload"]: c for c in codes if c["status"] == "decoded"}
  assert set(got) == {"12345678", "inverted code"}
  assert got["12345678"]["format"] == "Micro QR" and got["12345678"]["version"] in (1, 2, 3, 4)
  assert got["inverted code"]["format"] == "QR"
