"""Crowds of 50-500 real faces: jaxvis's default FaceDetector against the `mtcnn` package.

Each crowd is real faces (skimage lfw_subset and astronaut crops) tiled on a real photo
(`faces.samples.crowd`), detected by the package alone (its default settings, O-Net
threshold 0.7) and by `FaceDetector()` at its defaults, all crowds in ONE call beside a
small ordinary photo. Per crowd: faces found by each, one-to-one matches at IoU >= 0.9,
the largest landmark difference of the matched faces, and whether jaxvis flagged an
overflow. One JSON line per crowd (`common.emit`), plus wall times (one call each; the
jaxvis time includes compiling the programs its cap growth needs).

  python benchmarks/faces_crowd.py [--faces 50 200 500]
"""

from __future__ import annotations

import argparse
import os
import time

import common
import numpy as np

from jaxvis.faces import FaceDetector, samples
from jaxvis.ops import boxes as box_ops

# (faces, frame) pairs: the grid of samples.crowd needs a cell of 1.25x the largest face per face.
FRAMES = {50: (480, 640), 100: (640, 800), 200: (800, 1200), 500: (1400, 1800)}


def compare(ref: np.ndarray, faces) -> dict:
  """ref: the package's numpy rows [image, x1, y1, x2, y2, score, 5 x, 5 y]."""
  out = {"package_faces": int(len(ref)), "jaxvis_faces": len(faces)}
  if not len(ref) or not faces:
    return {**out, "matched_iou_0_9": 0, "max_landmark_px": None}
  mine = np.array([f.box for f in faces], np.float32)
  iou = np.asarray(box_ops.iou(np.asarray(ref[:, 1:5], np.float32), mine))
  match = iou.argmax(1)
  ok = (iou.max(1) >= 0.9)
  one_to_one = len(set(match[ok].tolist()))
  ref_marks = np.stack([ref[:, 6:11], ref[:, 11:16]], -1)[ok]
  my_marks = np.array([faces[j].landmarks for j in match[ok]]).reshape(-1, 5, 2)
  return {**out, "matched_iou_0_9": one_to_one,
          "max_landmark_px": round(float(np.abs(ref_marks - my_marks).max()), 3) if len(my_marks) else None}


def main() -> None:
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--faces", type=int, nargs="+", default=[50, 200, 500], choices=sorted(FRAMES))
  p.add_argument("--seed", type=int, default=0)
  args = p.parse_args()
  common.host_memory.relaunch_with_huge_pages()  # as common.parse_args
  from mtcnn import MTCNN
  ref_detector = MTCNN()
  crowds = {n: samples.crowd(args.seed + n, FRAMES[n], n)[0] for n in args.faces}
  images = list(crowds.values()) + [samples.astronaut_variants()["scale_320"]]
  refs, ref_s = {}, {}
  for n, im in crowds.items():
    start = time.perf_counter()
    refs[n] = ref_detector.detect_faces(im, box_format="xyxy", output_type="numpy", threshold_onet=0.7)
    ref_s[n] = time.perf_counter() - start
  start = time.perf_counter()
  faces, overflow = FaceDetector().detect_with_overflow(images)
  jaxvis_s = time.perf_counter() - start
  for k, n in enumerate(crowds):
    common.emit({"bench": "faces_crowd", "faces_pasted": n, "frame": "x".join(map(str, FRAMES[n])),
                 **compare(refs[n], faces[k]), "jaxvis_overflow": bool(overflow[k]),
                 "package_s": round(ref_s[n], 2), "jaxvis_all_crowds_one_call_s": round(jaxvis_s, 2),
                 "load_avg_1m": round(os.getloadavg()[0], 1)})


if __name__ == "__main__":
  main()
