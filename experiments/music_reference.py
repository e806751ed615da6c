"""Reference averages for quadrant narrowing (paper 4.4: words per quadrant over 60 images).

Reads a folder of images, each with optional `<stem>.txt` (caption) and
`<stem>.json` (detections) beside it, runs extraction + impression mapping, and
writes {"reference_means": [q1, q2, q3, q4], "images": N, ...} for
`jaxvis music recommend --reference`.

    python experiments/music_reference.py IMAGES_DIR --out reference.json
    python experiments/music_reference.py --tiny --out /tmp/reference.json   # skimage photos
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from jaxvis.music import batch, extract, synthetic
from jaxvis.music.pipeline import MusicRecommender

def _inputs(folder: str):
  for item in batch.iter_inputs([folder]):
    if item.error is not None:
      raise item.error            # a reference set with an unreadable image is not one to trust
    yield os.path.basename(item.path), item.image, item.caption, item.detections


def _tiny_inputs():
  from jaxvis.music.demo import PHOTOS, _photo
  for name, (caption, boxes) in PHOTOS.items():
    dets = extract.parse_detections([{"label": b[0], "box": list(b[1:])} for b in boxes])
    yield name, _photo(name), caption, dets


def main() -> None:
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("images", nargs="?", help="folder of reference images")
  ap.add_argument("--out", required=True)
  ap.add_argument("--method", choices=("A", "B"), default=None)
  ap.add_argument("--tiny", action="store_true", help="the four scikit-image demo photos")
  ap.add_argument("--system-out", help="also write image_id,method,quadrant CSV (the system "
                                       "quadrants that `jaxvis music evaluate` compares to users)")
  args = ap.parse_args()
  if not args.tiny and not args.images:
    ap.error("images: give a folder, or --tiny")
  rec = MusicRecommender(synthetic.illustrative_songs(10), face_boxes=None)
  counts, names, extractions = [], [], []
  for name, image, caption, dets in (_tiny_inputs() if args.tiny else _inputs(args.images)):
    ex = rec.extract(image, dets, caption, args.method)
    out = rec.recommend_words(ex)
    if out.quadrant:
      counts.append(out.counts)
      names.append(name)
      extractions.append(ex)
  if not counts:
    raise SystemExit("no image gave any impression word")
  means = np.maximum(np.mean(counts, 0), 1e-3)
  result = {"reference_means": [float(m) for m in means],
            "images": len(counts), "per_image_counts": dict(zip(names, np.asarray(counts).tolist())),
            "lexicon": rec.lexicon.source, "word_vectors": rec.wordvecs.source}
  with open(args.out, "w", encoding="utf-8") as f:
    json.dump(result, f, indent=2)
  if args.system_out:
    narrowed = MusicRecommender(rec.songs, face_boxes=None, reference_means=means)
    with open(args.system_out, "w", encoding="utf-8") as f:
      f.write("image_id,method,quadrant\n")
      for name, ex in zip(names, extractions):
        f.write(f"{name},{ex.method},{narrowed.recommend_words(ex).quadrant}\n")
  print(json.dumps({k: result[k] for k in ("reference_means", "images")}))


if __name__ == "__main__":
  main()
