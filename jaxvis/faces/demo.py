"""Face section of `jaxvis demo`: MTCNN on the astronaut and on real lfw faces pasted on photos,
then the QR-code reader (cascade + rectification + DenseNet + OpenCV) on held-out generated scenes."""

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
  qr_section(report, quick)


QR_RESULTS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "assets", "qr", "qr_results.json")


def qr_section(report, quick: bool) -> None:
  """Held-out scenes with the detected quadrilaterals and payloads, plus the experiment's table."""
  import json

  from PIL import Image

  from jaxvis.faces.cli import draw_codes
  from jaxvis.faces.qr import pipeline, reader, scenes

  report.section("QR codes: zxing-cpp + MTCNN cascade with 4 corners, homography rectification, DenseNet check")
  report.text("zxing-cpp reads the whole image; P-/R-/O-Net (O-Net regresses the 4 corners) find codes, each "
              "rectified by the homography of its corners, oriented by its finder patterns, verified by a "
              "small DenseNet and read by zxing-cpp from up-sampled crops; found-but-undecoded codes are "
              "drawn in red. "
              "Weights: jaxvis/assets/qr (trained by experiments/qr_codes.py). Scenes: held-out generated "
              "ones (backgrounds and seeds never seen in training).")
  try:
    weights = pipeline.load_weights()
  except ValueError as e:
    report.text(f"No shipped weights: {e}")
    return
  held = [scenes.make_scene("heldout", i) for i in range(4 if quick else 8)]
  t0 = time.perf_counter()
  results = reader.read_codes(weights, [s.image for s in held], batch_size=4)
  seconds = time.perf_counter() - t0
  rows = []
  for i, (scene, codes) in enumerate(zip(held, results)):
    fname = f"qr_heldout_{i}.png"
    draw_codes(Image.fromarray(scene.image), codes).save(os.path.join(report.out_dir, fname))
    read = {c["payload"] for c in codes if c["status"] == "decoded"}
    report.image(fname, f"held-out scene {i}: {len(codes)} code(s) found, "
                        f"{sum(p in read for p in scene.payloads)}/{len(scene.payloads)} read")
    for p in scene.payloads:
      rows.append([i, p, "yes" if p in read else "no"])
  report.table(["scene", "true payload", "read by jaxvis"], rows)
  report.text(f"{len(held)} scenes (compile + run + decode): {seconds:.1f} s.")
  if os.path.exists(QR_RESULTS):
    with open(QR_RESULTS) as f:
      r = json.load(f)
    d = r.get("details", {})
    zxing = r.get("zxing_cpp", {}).get("decode_rate")
    report.table(["held-out scenes", "jaxvis AP@0.5", "corner error (px)", "jaxvis decode rate",
                  "zxing-cpp decode rate", "OpenCV decode rate"],
                 [[d.get("heldout_scenes", "?"), round(r["jaxvis"]["ap"], 3),
                   round(r["jaxvis"]["corner_error_px"], 2), round(r["jaxvis"]["decode_rate"], 3),
                   "-" if zxing is None else round(zxing, 3), round(r["opencv"]["decode_rate"], 3)]])
