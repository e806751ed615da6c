"""QR codes with the MTCNN cascade: detect (box + 4 corners), rectify, verify (DenseNet), read (OpenCV).

Public API:
  detect_codes(weights, images, sizes=None, **QrConfig) -> CodeDetections     pure, jitted, batched
  read_codes(weights, list_of_images) -> per image [{"box", "corners", "score", "payload"}]
  load_weights(path=None) -> the weights shipped in jaxvis/assets/qr/
  scenes.make_scene(split, index) -> generated scene with ground truth
"""

from jaxvis.faces.qr.pipeline import CodeDetections, QrConfig, detect_codes, load_weights, read_codes, save_weights

__all__ = ["CodeDetections", "QrConfig", "detect_codes", "load_weights", "read_codes", "save_weights"]
