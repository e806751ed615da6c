"""MTCNN face detection (P/R/O/L-Net cascade) with the pretrained weights of the `mtcnn` package.

Public API (stable names):
  detect(params, images, sizes, min_face_size=20, thresholds=(0.6, 0.7, 0.7), scale_factor=0.709)
      -> Detections(boxes, scores, landmarks, valid)        pure, jitted, batched
  FaceDetector(...)(image_or_list) -> list[Face]             numpy / PIL convenience
  load_pretrained() -> {"pnet", "rnet", "onet"} parameters
"""

from jaxvis.faces.cascade import CascadeConfig, Detections, detect
from jaxvis.faces.detector import Face, FaceDetector, to_rgb_array
from jaxvis.faces.weights import WeightsFileError, load_pretrained

__all__ = ["CascadeConfig", "Detections", "detect", "Face", "FaceDetector", "to_rgb_array",
           "WeightsFileError", "load_pretrained"]
