"""`jaxvis demo` section: image-to-music on scikit-image photos.

Inputs the paper took from cloud services (SSD / Mask R-CNN detections, a
caption) are written by hand here for each photo and shown in the report. Songs
come from DEAM when `JAXVIS_DEAM_DIR` points at its annotation folder; otherwise
an illustrative generated table is used (and marked as such).
"""

from __future__ import annotations

import os

import numpy as np

from jaxvis.music import extract, plot, synthetic
from jaxvis.music.pipeline import MusicRecommender
from jaxvis.music.songs import load_deam

# photo -> (hand-written caption, hand-drawn boxes (label, x0, y0, x1, y1)) as demo inputs.
PHOTOS = {
    "astronaut": ("a smiling woman in a space suit in front of a flag",
                  [("person", 60, 30, 440, 512), ("flag", 0, 0, 120, 230)]),
    "coffee": ("a cup of coffee on a saucer with a spoon on a red table",
               [("cup", 90, 40, 520, 330), ("spoon", 300, 200, 600, 330)]),
    "chelsea": ("a cat lying down and looking at the camera",
                [("cat", 60, 10, 420, 300)]),
    "rocket": ("a rocket on a launch pad under a clear sky",
               [("rocket", 180, 60, 320, 427)]),
}


def _photo(name: str) -> np.ndarray:
  from skimage import data
  img = getattr(data, name)()
  return img[..., :3] if img.ndim == 3 else np.repeat(img[..., None], 3, -1)


def section(report, quick: bool) -> None:
  report.section("music: image-to-music through the arousal-valence plane")
  deam = os.environ.get("JAXVIS_DEAM_DIR")
  songs = load_deam(deam) if deam else synthetic.illustrative_songs(60)
  report.text(f"Songs: {songs.source} ({len(songs)} songs)."
              + ("" if deam else " ILLUSTRATIVE: these are generated AV points, not real "
                 "songs; set JAXVIS_DEAM_DIR to a DEAM annotations folder for real ones."))
  rec = MusicRecommender(songs, face_boxes=None)
  report.text(f"Impression words: {rec.lexicon.source} ({len(rec.lexicon)} words). "
              f"Word vectors: {rec.wordvecs.source}. Captions and boxes below are written "
              "by hand as demo inputs (the paper used cloud captioning and detection).")
  names = list(PHOTOS)[:1] if quick else list(PHOTOS)
  images = {n: _photo(n) for n in names}
  extractions = {}
  for n in names:
    caption, boxes = PHOTOS[n]
    dets = extract.parse_detections([{"label": b[0], "box": list(b[1:])} for b in boxes])
    extractions[n] = (rec.extract(images[n], dets, caption), rec.extract(images[n], dets))

  # Reference averages over the demo photos themselves (the paper used 60 images).
  counts = np.array([rec.recommend_words(ex).counts for pair in extractions.values()
                     for ex in pair])
  ref = np.maximum(counts.mean(0), 1e-3)
  rec_ref = MusicRecommender(songs, face_boxes=None, reference_means=ref)
  report.text("Reference averages of impression words per quadrant over these photos: "
              + ", ".join(f"Q{i + 1} {r:.2f}" for i, r in enumerate(ref)))
  rows = []
  for n in names:
    for ex in extractions[n]:
      out = rec_ref.recommend_words(ex).to_json(songs)
      counts_only = rec.recommend_words(ex).quadrant
      rows.append([n, ex.method, out["caption"] or ", ".join(ex.words),
                   ", ".join(f"{c['color']}->{c['target']}" for c in out["colors"]) or "-",
                   counts_only, out["quadrant"], " ".join(out["songs"]),
                   " ".join(out["songs_without_narrowing"])])
      if ex.method == "B":
        report.figure(plot.plot_av(out, songs, title=f"{n} (method B)"), f"music_{n}_av",
                      f"{n}: impression words, clusters, chosen quadrant and songs")
  report.table(["photo", "method", "caption / objects", "colour -> word",
                "quadrant (counts)", "quadrant (counts / reference)", "songs (narrowed)",
                "songs (no narrowing)"], rows)
