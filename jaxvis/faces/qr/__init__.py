"""QR codes with the MTCNN cascade and zxing-cpp: detect (box + 4 corners), rectify, verify (DenseNet), read.

Public API:
  read_codes(weights, list_of_images) -> per image [{"status", "payload", "bytes", "format", "version",
      "ec_level", "corners", "box", "score", ...}]: zxing-cpp on the whole image and on every code the
      cascade finds, merged; found-but-undecoded codes are "unreadable" (reader.py)
  detect_codes(weights, images, sizes=None, **QrConfig) -> CodeDetections     jitted, batched, no silent cap
  load_weights(path=None) -> the weights shipped in jaxvis/assets/qr/
  scenes.make_scene(split, index): the training scene generator
  heldout.make_scene(factor, index, split): the independent benchmark generator (never trained on)
"""

from jaxvis.faces.qr.pipeline import CodeDetections, QrConfig, detect_codes, load_weights, save_weights
from jaxvis.faces.qr.reader import read_codes, read_codes_with_overflow

__all__ = ["CodeDetections", "QrConfig", "detect_codes", "load_weights", "read_codes", "read_codes_with_overflow",
           "save_weights"]
