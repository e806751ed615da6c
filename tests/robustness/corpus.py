"""The bad-input corpus, generated at test time: broken images, files and folders."""

from __future__ import annotations

import os
import pickle
import struct
import zlib

import numpy as np
from PIL import Image
from skimage import data as skdata


class Corpus:
  """Paths of generated inputs under `root` (one instance per test session)."""

  def __init__(self, root: str):
    self.root = root
    os.makedirs(root, exist_ok=True)
    photo = skdata.astronaut()[::4, ::4]  # a real 128 x 128 photo with one face
    self.photo = self._img("photo.png", photo)
    self.gray16 = self._img("gray16.png", (photo.mean(-1) * 257).astype(np.uint16))
    self.float_tif = self._save("float.tif", lambda p: Image.fromarray(
        (photo.mean(-1) / 255).astype(np.float32), mode="F").save(p))
    self.rgba = self._img("rgba.png", np.dstack([photo, np.full(photo.shape[:2], 200, np.uint8)]))
    self.tiny = self._img("tiny.png", photo[:3, :3])
    self.missing = os.path.join(root, "does-not-exist.png")
    self.empty = self._bytes("empty.png", b"")
    self.text_png = self._bytes("text.png", b"this is not an image\n")
    jpg = os.path.join(root, "full.jpg")
    Image.fromarray(photo).save(jpg, quality=90)
    self.truncated_jpg = self._bytes("truncated.jpg", open(jpg, "rb").read()[:600])
    self.huge_png = self._bytes("huge.png", _png_header_only(60000, 60000))
    self.folder = os.path.join(root, "a-folder")
    os.makedirs(self.folder, exist_ok=True)
    self.empty_folder = os.path.join(root, "empty-folder")
    os.makedirs(self.empty_folder, exist_ok=True)
    self.bad_json = self._bytes("bad.json", b'{"a": [1, 2,')
    self.nan_json = self._bytes("nan.json", b'{"a": NaN}')
    self.plain_file = self._bytes("plain.txt", b"hello\n")
    self.unwritable = os.path.join(self.plain_file, "out.json")  # a path "inside" a file
    self.marker = os.path.join(root, "PWNED")

  def _save(self, name, write):
    path = os.path.join(self.root, name)
    write(path)
    return path

  def _img(self, name, array):
    return self._save(name, lambda p: Image.fromarray(array).save(p))

  def _bytes(self, name, raw: bytes):
    return self._save(name, lambda p: open(p, "wb").write(raw))

  def malicious_pickle(self, name: str) -> str:
    """A pickle that would create `self.marker` if it were ever unpickled with `pickle.load`."""
    class Payload:
      def __reduce__(_self):
        return (open, (self.marker, "w"))
    return self._bytes(name, pickle.dumps({b"data": Payload(), b"labels": [0]}))

  def folder_with(self, name: str, files: dict[str, bytes | str]) -> str:
    folder = os.path.join(self.root, name)
    os.makedirs(folder, exist_ok=True)
    for fname, content in files.items():
      os.makedirs(os.path.dirname(os.path.join(folder, fname)), exist_ok=True)
      if isinstance(content, str) and os.path.exists(content):
        content = open(content, "rb").read()
      elif isinstance(content, str):
        content = content.encode()
      with open(os.path.join(folder, fname), "wb") as f:
        f.write(content)
    return folder


def _png_header_only(width: int, height: int) -> bytes:
  """A PNG whose header claims width x height with no pixel data (a decompression bomb stand-in)."""
  def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
  ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
  return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) \
      + chunk(b"IEND", b"")
