"""QR reading on independently generated scenes: jaxvis vs zxing-cpp vs OpenCV, per difficulty factor.

Scenes come from `jaxvis.faces.qr.heldout` (a generator no detector was trained on; split
"test"): `--per-factor` scenes of each of its 13 difficulty factors. Every reader runs in
this one process on the same images:

  jaxvis        `jaxvis.faces.qr.read_codes` with the shipped weights (zxing-cpp on the whole
                image + on the cascade's rectified / up-sampled crops, merged)
  zxing-cpp     `zxingcpp.read_barcodes(gray, formats=QR | Micro QR)` (rotations, downscaling,
                inversion on: its defaults)
  opencv        `cv2.QRCodeDetector`: a code counts if `detectAndDecode` or
                `detectAndDecodeMulti` reads it
  opencv-aruco  `cv2.QRCodeDetectorAruco`: the same two calls

Printed as JSON lines:
  {"bench": "qr", "reader", "factor", "scenes", "codes", "decoded", "decode_rate", "wrong", ...} per
      factor and reader ("factor": "total" for all), jaxvis also with its `unreadable` reports on
      true codes it did not decode (`unreadable_true`) and on no code (`unreadable_false`);
  {"bench": "qr-speed", "reader", "device", "dtype", "batch", "items_per_s", "compile_s", "images"}:
      images/s over all scenes (jaxvis: after one warm-up call per image size, whose time is
      `compile_s`; the persistent compilation cache makes a second process start warm);
  {"bench": "qr-negatives", "reader", "images", "false_decoded", "false_unreadable"}: code-free
      scenes with code-like texture (text, tiles, grids, checkers, 1-D barcodes, photos);
  {"bench": "qr-summary", ...}: jaxvis minus zxing-cpp per factor, and whether jaxvis decodes at
      least as many in every factor and more in total, with no wrong payloads.

  python benchmarks/qr.py [--quick] [--per-factor 20] [--split test] [--ablation] [--negatives 6]
                         [--negatives-split test] [--recall] [--unreadable-sweep S,S] [--weights PATH]
                         [--crop-all on|off] [--crop-ablation]
  (--ablation adds "jaxvis-no-verifier": the reader without the DenseNet verifier;
   --crop-all on|off sets the reader's `crop_all` (crop-read every O-Net candidate, the verifier
   gating only `unreadable` reports; default: the reader's); --crop-ablation adds the reader with
   the other setting, "jaxvis-crop-all" or "jaxvis-kept-crops";
   --recall adds {"bench": "qr-recall", "factor", "codes", "found", "recall"}: the cascade's
   own detection recall, a true code found when a kept detection has IoU >= 0.5 with its box;
   --negatives-split dev|test|fresh picks the code-free scenes (default test; fresh: a seed stream
   of its own, see heldout.negative_scene); --negatives N: N scenes of each of the 6 kinds;
   --unreadable-sweep 0.9,0.97 adds {"bench": "qr-unreadable-sweep", "unreadable_score", "decoded",
   "unreadable_true", "unreadable_false", "negatives_false_unreadable"}: the same run's reports with
   detector-only `unreadable` reports under each score dropped, i.e. what a higher
   `--unreadable-score` gives (use on dev; it cannot show scores under the run's own)
"""

from __future__ import annotations

import os
import sys
import time

import common
import numpy as np

from jaxvis.cli import configure_jax


def zxing_reader():
  from jaxvis.faces.qr import decode
  def run(image):
    return [f.text for f in decode.zxing_find(decode.as_gray(image)) if f.decoded]
  return run


def opencv_reader(aruco: bool):
  import cv2
  det = cv2.QRCodeDetectorAruco() if aruco else cv2.QRCodeDetector()
  def run(image):
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    texts = set()
    try:
      text, _, _ = det.detectAndDecode(gray)
      texts.add(text)
    except cv2.error:
      pass
    try:
      ok, many, _, _ = det.detectAndDecodeMulti(gray)
      if ok:
        texts |= set(many)
    except cv2.error:
      pass
    return [t for t in texts if t]
  return run


def _by_size(images):
  """Image indices grouped by size, in order (one detector canvas per group)."""
  groups: dict = {}
  for i, im in enumerate(images):
    groups.setdefault(im.shape, []).append(i)
  return list(groups.values())


def run_jaxvis(weights, images, batch_size: int, **options):
  """(results per image, seconds, warm-up seconds): one read_codes call per image size."""
  from jaxvis.faces.qr import reader
  groups = _by_size(images)
  t0 = time.perf_counter()
  for idx in groups:   # compile (or load from the persistent cache) each canvas / batch shape
    reader.read_codes(weights, [images[i] for i in idx[:batch_size]], batch_size=batch_size, **options)
    if len(idx) % batch_size:
      reader.read_codes(weights, [images[i] for i in idx[-(len(idx) % batch_size):]], batch_size=batch_size,
                        **options)
  warm = time.perf_counter() - t0
  results: list = [None] * len(images)
  t0 = time.perf_counter()
  for idx in groups:
    for i, r in zip(idx, reader.read_codes(weights, [images[i] for i in idx], batch_size=batch_size, **options)):
      results[i] = r
  return results, time.perf_counter() - t0, warm


def detection_recall(weights, scene_list, batch_size: int) -> dict:
  """{factor: {"codes", "found"}} and "total": true codes with a cascade detection (after the
  verifier) of IoU >= 0.5 with their box; the detector alone, no decoding."""
  from jaxvis.faces import mining
  from jaxvis.faces.qr import pipeline
  images = [s.image for s in scene_list]
  out: dict = {}
  for idx in _by_size(images):
    for k in range(0, len(idx), batch_size):
      chunk = idx[k:k + batch_size]
      batch = np.stack([images[i] for i in chunk] + [np.zeros_like(images[chunk[0]])] * (batch_size - len(chunk)))
      det = pipeline.detect_codes(weights, batch)
      for j, i in enumerate(chunk):
        s = scene_list[i]
        truth = np.array([np.r_[np.min(c.corners, 0), np.max(c.corners, 0)] for c in s.codes], np.float32).reshape(-1, 4)
        found = np.asarray(det.boxes[j])[np.asarray(det.valid[j])]
        hit = mining.iou_matrix(truth, found).max(1) >= 0.5 if len(found) and len(truth) else np.zeros(len(truth), bool)
        for key in (s.factor, "total"):
          acc = out.setdefault(key, {"codes": 0, "found": 0})
          acc["codes"] += len(truth)
          acc["found"] += int(hit.sum())
  return out


def run_simple(fn, images):
  t0 = time.perf_counter()
  out = [fn(im) for im in images]
  return out, time.perf_counter() - t0


def main() -> int:
  args = common.parse_args(__doc__.split("\n")[0], [
      (("--per-factor",), {"type": int, "default": None, "help": "scenes per factor (default 20; quick: 2)"}),
      (("--split",), {"default": "test", "choices": ["test", "dev"]}),
      (("--ablation",), {"action": "store_true", "help": "also the reader without the verifier"}),
      (("--negatives",), {"type": int, "default": None, "help": "code-free scenes per kind (default 6; quick: 1)"}),
      (("--negatives-split",), {"default": "test", "choices": ["test", "dev", "fresh"],
                                "help": "split of the code-free scenes (default test; fresh: unseen seeds)"}),
      (("--batch",), {"type": int, "default": 4, "help": "jaxvis images per detector program"}),
      (("--weights",), {"default": None, "help": "QR weights file (default: the shipped ones)"}),
      (("--unreadable-score",), {"type": float, "default": None,
                                 "help": "jaxvis: candidate score from which an undecoded candidate is reported "
                                         "(default: the reader's)"}),
      (("--unreadable-sweep",), {"default": None, "metavar": "S,S,...",
                                 "help": "also the jaxvis counts with only detector-only `unreadable` reports "
                                         "of score >= each S (from the same run; for choosing the score on dev)"}),
      (("--crop-all",), {"default": None, "choices": ["on", "off"],
                         "help": "jaxvis: crop-read every O-Net candidate (on) or only the verifier's (off); "
                                 "default: the reader's"}),
      (("--crop-ablation",), {"action": "store_true",
                              "help": "also the jaxvis reader with the other --crop-all setting"}),
      (("--recall",), {"action": "store_true",
                       "help": "also the cascade's own detection recall (IoU >= 0.5, no decoding)"}),
  ])
  sweep = _parse_sweep(args.unreadable_sweep)
  configure_jax()
  from jaxvis.faces.qr import evaluation, heldout, pipeline
  per = args.per_factor or (2 if args.quick else 20)
  n_neg = args.negatives if args.negatives is not None else (1 if args.quick else 6)
  t0 = time.perf_counter()
  scene_list = heldout.make_scenes(per, args.split)
  images = [s.image for s in scene_list]
  negatives = [heldout.negative_scene(k, i, args.negatives_split) for k in heldout.NEGATIVE_KINDS
               for i in range(n_neg)]
  print(f"# {len(scene_list)} scenes ({sum(len(s.codes) for s in scene_list)} codes) and {len(negatives)} "
        f"negatives generated in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
  weights = pipeline.load_weights(args.weights)
  base = {} if args.unreadable_score is None else {"unreadable_score": args.unreadable_score}
  from jaxvis.faces.qr import reader as qr_reader
  crop_all = qr_reader.CROP_ALL if args.crop_all is None else args.crop_all == "on"
  base["crop_all"] = crop_all
  readers = [("jaxvis", base)] + ([("jaxvis-no-verifier", {**base, "use_verifier": False})] if args.ablation else [])
  if args.crop_ablation:
    readers.append(("jaxvis-kept-crops" if crop_all else "jaxvis-crop-all", {**base, "crop_all": not crop_all}))
  outputs, speed = {}, {}
  for name, options in readers:
    results, seconds, warm = run_jaxvis(weights, images, args.batch, **options)
    outputs[name] = results
    speed[name] = (seconds, warm, args.batch)
    neg, _, _ = run_jaxvis(weights, negatives, args.batch, **options) if negatives else ([], 0, 0)
    _emit_negatives(name, neg, args.negatives_split)
    for t in sweep:
      keep = lambda res: [[c for c in r if not (c["source"] == "detector" and c["score"] < t)] for r in res]  # noqa: E731
      sc = evaluation.score_heldout(keep(results), scene_list)["total"]
      kept_neg = keep(neg)
      common.emit({"bench": "qr-unreadable-sweep", "reader": name, "split": args.split,
                   "negatives_split": args.negatives_split, "unreadable_score": t, "decoded": sc["decoded"],
                   "unreadable_true": sc["unreadable_true"], "unreadable_false": sc["unreadable_false"],
                   "negatives_false_unreadable": sum(c["status"] == "unreadable" for r in kept_neg for c in r)})
  for name, fn in (("zxing-cpp", zxing_reader()), ("opencv", opencv_reader(False)),
                   ("opencv-aruco", opencv_reader(True))):
    fn(images[0])
    texts, seconds = run_simple(fn, images)
    outputs[name] = [evaluation.payload_codes(t) for t in texts]
    speed[name] = (seconds, 0.0, 1)
    _emit_negatives(name, [evaluation.payload_codes(fn(im)) for im in negatives], args.negatives_split)
  scores = {name: evaluation.score_heldout(res, scene_list) for name, res in outputs.items()}
  factors = list(heldout.FACTORS) + ["total"]
  for name, sc in scores.items():
    for f in factors:
      r = sc[f]
      rec = {"bench": "qr", "reader": name, "factor": f, "split": args.split, **r,
             "decode_rate": round(r["decoded"] / max(r["codes"], 1), 4)}
      if not name.startswith("jaxvis"):
        rec.pop("unreadable_true"), rec.pop("unreadable_false")
      common.emit(rec)
  for name, (seconds, warm, batch) in speed.items():
    common.emit({"bench": "qr-speed", "reader": name, "dtype": "uint8", "batch": batch,
                 "items_per_s": len(images) / seconds, "compile_s": warm, "images": len(images),
                 "seconds": round(seconds, 2), "load_average": [round(v, 2) for v in os.getloadavg()]})
  if args.recall:
    for f, r in detection_recall(weights, scene_list, args.batch).items():
      common.emit({"bench": "qr-recall", "split": args.split, "factor": f, **r,
                   "recall": round(r["found"] / max(r["codes"], 1), 4)})
  ours, theirs = scores["jaxvis"], scores["zxing-cpp"]
  diff = {f: ours[f]["decoded"] - theirs[f]["decoded"] for f in factors}
  common.emit({"bench": "qr-summary", "split": args.split, "scenes": len(scene_list),
               "codes": ours["total"]["codes"], "jaxvis_minus_zxing": diff,
               "at_least_zxing_every_factor": all(v >= 0 for v in diff.values()),
               "more_than_zxing_in_total": diff["total"] > 0,
               "wrong_payloads": {n: s["total"]["wrong"] for n, s in scores.items()}})
  return 0


def _parse_sweep(text) -> list:
  if text is None:
    return []
  try:
    values = [float(v) for v in text.split(",")]
  except ValueError:
    values = []
  if not values or not all(0.0 <= v <= 1.0 for v in values):
    raise SystemExit(f"error: --unreadable-sweep: expected comma-separated scores in [0, 1], got {text!r}")
  return values


def _emit_negatives(name: str, results, split: str) -> None:
  common.emit({"bench": "qr-negatives", "reader": name, "split": split, "images": len(results),
               "false_decoded": sum(c["status"] == "decoded" for r in results for c in r),
               "false_unreadable": sum(c["status"] == "unreadable" for r in results for c in r)})


if __name__ == "__main__":
  sys.exit(main())
