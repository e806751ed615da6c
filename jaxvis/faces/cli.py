"""`jaxvis faces ...`: detect faces in image files.

  jaxvis faces detect IMG [IMG ...] --json [--draw DIR] [--min-face-size 20]
      one JSON object per image:
      {"image": path, "faces": [{"box": [x1, y1, x2, y2], "score": s, "landmarks": [[x, y] x 5]}]}
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def register(parser: argparse.ArgumentParser) -> None:
  sub = parser.add_subparsers(dest="faces_command")
  p = sub.add_parser("detect", help="detect faces and 5 landmarks (MTCNN, pretrained weights)",
                     description="Detect faces and 5 landmarks with the MTCNN cascade.")
  p.add_argument("images", nargs="+", help="image files (any format PIL reads)")
  p.add_argument("--json", action="store_true", help="print one JSON object per image (default: a table)")
  p.add_argument("--draw", metavar="DIR", help="write each image with boxes and landmarks drawn into DIR")
  p.add_argument("--min-face-size", type=float, default=20.0)
  p.add_argument("--thresholds", type=float, nargs=3, default=(0.6, 0.7, 0.7), metavar=("P", "R", "O"))
  p.add_argument("--batch-size", type=int, default=8)
  p.set_defaults(func=run_detect)


def _load(path: str):
  from PIL import Image
  try:
    with Image.open(path) as im:
      return im.convert("RGB")
  except FileNotFoundError:
    raise ValueError(f"images: {path} does not exist") from None
  except OSError as e:
    raise ValueError(f"images: {path} is not an image PIL can read ({e})") from None


def draw_faces(image, faces):
  """A copy of a PIL image with boxes and landmarks drawn."""
  from PIL import ImageDraw
  out = image.copy()
  d = ImageDraw.Draw(out)
  width = max(1, round(min(out.size) / 200))
  for f in faces:
    d.rectangle(f.box, outline=(0, 255, 0), width=width)
    for x, y in f.landmarks:
      r = 1.5 * width
      d.ellipse((x - r, y - r, x + r, y + r), fill=(255, 0, 0))
  return out


def run_detect(args) -> int:
  from jaxvis.faces.detector import FaceDetector
  try:
    images = [_load(p) for p in args.images]
  except ValueError as e:
    print(f"jaxvis faces detect: {e}", file=sys.stderr)
    return 2
  fd = FaceDetector(min_face_size=args.min_face_size, thresholds=tuple(args.thresholds),
                    batch_size=args.batch_size)
  results = fd(images)
  if args.draw:
    os.makedirs(args.draw, exist_ok=True)
  for path, image, faces in zip(args.images, images, results):
    if args.json:
      print(json.dumps({"image": path, "faces": [f.to_json() for f in faces]}), flush=True)
    else:
      print(f"{path}: {len(faces)} face(s)")
      for f in faces:
        print("  box=[{:.1f}, {:.1f}, {:.1f}, {:.1f}] score={:.4f}".format(*f.box, f.score))
    if args.draw:
      stem = os.path.splitext(os.path.basename(path))[0]
      draw_faces(image, faces).save(os.path.join(args.draw, f"{stem}_faces.png"))
  return 0
