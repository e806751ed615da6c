"""Face section of `jaxvis demo`: MTCNN on the astronaut and on real lfw faces pasted on photos."""

from __future__ import annotations

import os
import time

import numpy as np


def section(report, quick: bool) -> None:
  from PIL import Image

  from jaxvis.faces import FaceDetector, samples
  from jaxvis.faces.cli import draw_faces

  report.section("Faces: MTCNN cascade (pretrained weights of the mtcnn package)")
  report.text("The whole cascade (image pyramid packed in one mosaic, P-Net, NMS, R-Net, O-Net) "
              "runs as one jitted program over a padded batch of mixed image sizes.")
  images = {"astronaut": samples.astronaut_variants()["scale_320"]}
  for seed in ((0,) if quick else (0, 4, 5)):
    images[f"lfw mosaic {seed}"] = samples.lfw_mosaic(seed)[0]
  fd = FaceDetector(canvas=(320, 320), batch_size=8)  # the tests compile this same program
  t0 = time.perf_counter()
  results = fd(list(images.values()))
  first = time.perf_counter() - t0
  t0 = time.perf_counter()
  fd(list(images.values()))
  again = time.perf_counter() - t0
  rows = []
  for (name, img), faces in zip(images.items(), results):
    fname = "faces_" + name.replace(" ", "_") + ".png"
    draw_faces(Image.fromarray(img), faces).save(os.path.join(report.out_dir, fname))
    report.image(fname, f"{name}: {len(faces)} face(s)")
    for f in faces:
      rows.append([name, [round(v, 1) for v in f.box], round(f.score, 4)])
  report.table(["image", "box (x1, y1, x2, y2)", "score"], rows)
  report.text(f"Batch of {len(images)} images: first call (compile + run) {first:.1f} s, "
              f"then {again:.2f} s.")
  if not quick:
    from mtcnn import MTCNN
    from jaxvis.ops import boxes as box_ops
    ref = MTCNN()
    table = []
    for (name, img), faces in zip(images.items(), results):
      r = ref.detect_faces(img, box_format="xyxy", output_type="numpy", threshold_onet=0.7)
      ious = []
      if len(r) and faces:
        iou = np.asarray(box_ops.iou(np.asarray(r[:, 1:5], np.float32), np.array([f.box for f in faces], np.float32)))
        ious = iou.max(1).round(3).tolist()
      table.append([name, len(r), len(faces), ious])
    report.table(["image", "faces (mtcnn package)", "faces (jaxvis)", "best IoU per reference face"], table)
