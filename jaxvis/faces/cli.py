"""`jaxvis faces ...`: detect faces in image files.

  jaxvis faces detect IMG [IMG ...] --json [--draw DIR] [--min-face-size 20] [--max-faces-limit 4096]
      one JSON object per image:
      {"image": path, "faces": [{"box": [x1, y1, x2, y2], "score": s, "landmarks": [[x, y] x 5]}],
       "overflow": false}
      a file that cannot be read is reported on stderr (`error: <file>: <problem>`) and
      skipped; the others are still detected; the exit status is then 1.
  jaxvis faces extract IMG [IMG ...] --out DIR [--align] [--size N] [--margin M] [--select largest]
      face crops (or 5-point aligned faces) as PNG files; one JSON line per crop
  jaxvis faces train --stage pnet|rnet|onet|lnet --workdir DIR [--wider GT.txt] [--celeba ROOT] ...
      mines samples (R/O-Net: with the earlier stages, --pnet/--rnet), trains through
      jaxvis.train.fit (checkpointed, resumable), writes DIR/<stage>.msgpack; prints JSON
  jaxvis faces evaluate [--wider GT.txt] [--celeba ROOT] [--pnet/--rnet/--onet/--lnet PATH]
      AP at IoU 0.5 (WIDER file) and landmark NME (CelebA); prints JSON
  jaxvis faces qr IMG [IMG ...] --json [--weights PATH] [--draw DIR] [--no-detector] [--no-verifier]
      QR and Micro QR codes (zxing-cpp + the cascade's crops): one JSON object per image:
      {"image": path, "overflow": false, "codes": [{"status": "decoded" | "unreadable",
       "payload": str or null, "bytes_hex": str or null, "format": "QR" | "Micro QR" | null,
       "version": int or null, "ec_level": "L"|"M"|"Q"|"H" or null, "corners": [[x, y] x 4],
       "box": [x1, y1, x2, y2], "score": s, "source": "image"|"crop"|"detector", "detector_score": s}]}
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from jaxvis import cli_args as ca

from jaxvis.errors import InputError


def register(parser: argparse.ArgumentParser) -> None:
  sub = parser.add_subparsers(dest="faces_command")
  p = sub.add_parser("detect", help="detect faces and 5 landmarks (MTCNN, pretrained weights)",
                     description="Detect faces and 5 landmarks with the MTCNN cascade.")
  p.add_argument("images", nargs="+", help="image files (any format PIL reads)")
  p.add_argument("--json", action="store_true", help="print one JSON object per image (default: a table)")
  p.add_argument("--draw", type=ca.output_dir, metavar="DIR", help="write each image with boxes and landmarks drawn into DIR")
  p.add_argument("--min-face-size", type=ca.positive_float, default=20.0)
  p.add_argument("--thresholds", type=ca.probability, nargs=3, default=(0.6, 0.7, 0.7), metavar=("P", "R", "O"))
  p.add_argument("--batch-size", type=ca.positive_int, default=8, help="most images per compiled call "
                 "(a call is padded only to the next power of two)")
  _add_cap_args(p)
  p.set_defaults(func=run_detect)
  _register_train_evaluate(sub)
  _register_qr(sub)
  _register_extract(sub)


def _add_cap_args(p) -> None:
  p.add_argument("--max-faces", type=ca.positive_int, default=16,
                 help="face slots of the first compiled program (crowded images are re-run with x4 caps)")
  p.add_argument("--max-faces-limit", type=ca.positive_int, default=4096,
                 help="most faces per image; an image still capped there is reported (\"overflow\": true)")


def _detector_from_args(args, params=None, options=None):
  from jaxvis.faces.detector import FaceDetector
  return FaceDetector(params=params, min_face_size=args.min_face_size, thresholds=tuple(args.thresholds),
                      batch_size=args.batch_size, max_faces_limit=args.max_faces_limit,
                      options={**(options or {}), "max_faces": args.max_faces})


def _load(path: str):
  """An image file as a PIL RGB image, by the shared loader (EXIF, 16-bit, alpha rules)."""
  from PIL import Image
  from jaxvis.data.images import load_image
  return Image.fromarray(load_image(path))


def readable_images(paths):
  """(path, uint8 RGB array) of each readable file; each unreadable one reported on stderr."""
  from jaxvis.data.images import iter_images
  ok, failed = [], 0
  for item in iter_images(paths):
    if item.error is not None:
      print(f"error: {item.error.where}: {item.error.problem}", file=sys.stderr, flush=True)
      failed += 1
    else:
      ok.append((item.path, item.image))
  return ok, failed


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
  from PIL import Image
  fd = _detector_from_args(args)
  loaded, failed = readable_images(args.images)
  if not loaded:
    return 1 if failed else 0
  results, overflow = fd.detect_with_overflow([im for _, im in loaded])
  if args.draw:
    os.makedirs(args.draw, exist_ok=True)
  for (path, image), faces, over in zip(loaded, results, overflow):
    if args.json:
      print(json.dumps({"image": path, "faces": [f.to_json() for f in faces], "overflow": over}), flush=True)
    else:
      print(f"{path}: {len(faces)} face(s)" + (" (capped at --max-faces-limit)" if over else ""))
      for f in faces:
        print("  box=[{:.1f}, {:.1f}, {:.1f}, {:.1f}] score={:.4f}".format(*f.box, f.score))
    if args.draw:
      stem = os.path.splitext(os.path.basename(path))[0]
      draw_faces(Image.fromarray(image), faces).save(os.path.join(args.draw, f"{stem}_faces.png"))
  return 1 if failed else 0


# --------------------------------------------------------------------------- extract


def _register_extract(sub) -> None:
  x = sub.add_parser("extract", help="write face crops (margin, size) or 5-point aligned faces",
                     description="Detect faces and write each as a PNG crop (or aligned to a template).")
  x.add_argument("images", nargs="+", help="image files")
  x.add_argument("--out", type=ca.output_dir, required=True, metavar="DIR", help="folder for <image>_face<k>.png")
  x.add_argument("--align", action="store_true", help="5-point similarity alignment to --template")
  x.add_argument("--template", default="arcface112", choices=("arcface112", "arcface96x112"))
  x.add_argument("--size", type=ca.int_at_least(8), default=None, help="crop side (default 160) or aligned height (112)")
  x.add_argument("--margin", type=ca.float_in(0.0), default=0.0, help="context pixels of a crop (facenet-pytorch's rule)")
  x.add_argument("--select", default=None, choices=("largest", "probable", "central"),
                 help="one face per image (default: every face)")
  x.add_argument("--min-face-size", type=ca.positive_float, default=20.0)
  x.add_argument("--thresholds", type=ca.probability, nargs=3, default=(0.6, 0.7, 0.7), metavar=("P", "R", "O"))
  x.add_argument("--batch-size", type=ca.positive_int, default=8)
  _add_cap_args(x)
  x.set_defaults(func=run_extract)


def run_extract(args) -> int:
  import numpy as np
  from PIL import Image
  from jaxvis.faces import extract
  if args.size is not None and args.size < 16:
    raise InputError("--size", f"expected >= 16 pixels, got {args.size}")
  extract.template(args.template, args.size if args.align else None)  # validates early
  fd = _detector_from_args(args)
  loaded, failed = readable_images(args.images)
  results, _ = fd.detect_with_overflow([im for _, im in loaded]) if loaded else ([], [])
  os.makedirs(args.out, exist_ok=True)
  for (path, image), faces in zip(loaded, results):
    if not faces:
      continue
    crops, valid, order = extract.extract_faces(image, faces, size=args.size, margin=args.margin,
                                                align=args.align, template_name=args.template,
                                                select=args.select)
    stem = os.path.splitext(os.path.basename(path))[0]
    for k, (crop, f) in enumerate(zip(crops, order)):
      name = os.path.join(args.out, f"{stem}_face{k}.png")
      Image.fromarray(np.clip(np.rint(crop), 0, 255).astype(np.uint8)).save(name)
      print(json.dumps({"image": path, "face": k, "crop": name, **faces[f].to_json()}), flush=True)
  return 1 if failed else 0


# ------------------------------------------------------------------ train / evaluate


def _add_data_args(p) -> None:
  p.add_argument("--wider", type=ca.existing_file, metavar="GT_TXT", help="wider_face_split/wider_face_<split>_bbx_gt.txt")
  p.add_argument("--wider-images", type=ca.existing_dir, metavar="DIR", help="image folder (default: WIDER_<split>/images beside it)")
  p.add_argument("--celeba", type=ca.existing_dir, metavar="ROOT", help="CelebA folder, in the wild (Anno/list_bbox_celeba.txt, "
                 "Anno/list_landmarks_celeba.txt, img_celeba/) or aligned (Anno/list_landmarks_align_celeba.txt, "
                 "img_align_celeba/; boxes from the five points)")
  p.add_argument("--limit", type=ca.positive_int, default=None, help="use only the first N images of each file")


def _add_param_args(p, default: str | None) -> None:
  for stage in ("pnet", "rnet", "onet", "lnet"):
    p.add_argument(f"--{stage}", metavar="PATH", default=None if stage == "lnet" else default,
                   help=f"{stage} parameters: a .msgpack from `faces train`, or 'pretrained' (the mtcnn package's)")


def _register_train_evaluate(sub) -> None:
  t = sub.add_parser("train", help="train one MTCNN stage from WIDER FACE / CelebA annotations",
                     description="Mine samples and train one stage (checkpointed and resumable in --workdir).")
  t.add_argument("--stage", required=True, choices=("pnet", "rnet", "onet", "lnet"))
  t.add_argument("--workdir", type=ca.output_dir, required=True, help="checkpoints, metrics.jsonl and <stage>.msgpack")
  _add_data_args(t)
  _add_param_args(t, None)
  t.add_argument("--steps", type=ca.positive_int, default=1000)
  t.add_argument("--batch-size", type=ca.positive_int, default=64)
  t.add_argument("--learning-rate", type=ca.positive_float, default=1e-3)
  t.add_argument("--lr-schedule", default="piecewise", choices=("piecewise", "cosine", "constant"),
                 help="piecewise: x0.1 at 6/22, 14/22, 20/22 of --steps (the authors' TF port)")
  t.add_argument("--flip", action=argparse.BooleanOptionalAction, default=True,
                 help="mirror each image with probability 1/2 before mining (landmarks swapped)")
  t.add_argument("--shuffle-window", type=ca.positive_int, default=4096,
                 help="samples shuffled together in the streamed pipeline (bounds memory)")
  t.add_argument("--ohem-ratio", type=ca.float_in(0.0, 1.0, low_open=True), default=0.7)
  t.add_argument("--seed", type=int, default=0)
  t.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
  t.add_argument("--checkpoint-every", type=ca.nonnegative_int, default=500)
  t.add_argument("--min-face-size", type=ca.positive_float, default=20.0, help="for mining with earlier stages")
  t.set_defaults(func=run_train)

  e = sub.add_parser("evaluate", help="AP at IoU 0.5 over a WIDER FACE file, landmark NME over CelebA",
                     description="Evaluate the cascade (pretrained or trained stages) on annotation files.")
  _add_data_args(e)
  _add_param_args(e, "pretrained")
  e.add_argument("--min-face-size", type=ca.positive_float, default=20.0)
  e.add_argument("--thresholds", type=ca.probability, nargs=3, default=(0.6, 0.7, 0.7), metavar=("P", "R", "O"))
  e.add_argument("--nme-normalize", default="interocular", choices=("interocular", "box"))
  e.add_argument("--wider-protocol", type=ca.existing_dir, metavar="GT_DIR",
                 help="the official easy / medium / hard AP: folder of wider_face_val.mat and "
                      "wider_{easy,medium,hard}_val.mat (images from --wider-images, default "
                      "WIDER_val/images beside GT_DIR's parent)")
  e.add_argument("--pr-curves", type=ca.output_file, metavar="PNG",
                 help="with --wider-protocol: write the three PR curves here")
  e.add_argument("--batch-size", type=ca.positive_int, default=8)
  _add_cap_args(e)
  e.set_defaults(func=run_evaluate)


def _load_stage_params(args, stages) -> dict:
  from jaxvis.faces import training, weights
  out, pretrained = {}, None
  for stage in stages:
    src = getattr(args, stage)
    if src is None:
      continue
    if src == "pretrained":
      if stage == "lnet":
        raise InputError("--lnet", "no pretrained L-Net exists; give a .msgpack from `faces train --stage lnet`")
      pretrained = pretrained or weights.load_pretrained()
      out[stage] = pretrained[stage]
    else:
      out[stage] = training.load_params(src)
  return out


def _records(args):
  from jaxvis.faces import celeba, wider
  w = c = None
  if args.wider:
    w = wider.read_bbx_gt(args.wider, args.wider_images)[:args.limit]
  if args.celeba:
    c = celeba.read_celeba(args.celeba)[:args.limit]
  return w, c


def run_train(args) -> int:
  from jaxvis.faces import sample_stream, training, training_data
  w, c = _records(args)
  cfg = training.TrainConfig(stage=args.stage, steps=args.steps, batch_size=args.batch_size,
                             learning_rate=args.learning_rate, lr_schedule=args.lr_schedule,
                             ohem_ratio=args.ohem_ratio, seed=args.seed, dtype=args.dtype)
  if args.stage == "lnet":
    if c is None:
      raise InputError("--celeba", "L-Net trains on CelebA landmarks; give the CelebA folder")
    records = c
  else:
    if w is None and c is None:
      raise InputError("--wider/--celeba", "give at least one annotation source")
    records = (w or []) + (c or [])
  prev = _load_stage_params(args, ("pnet", "rnet") if args.stage == "onet" else ("pnet",)) \
      if args.stage in ("rnet", "onet") else {}
  mining_cfg = training_data.MiningConfig(args.stage, min_face_size=args.min_face_size, flip=args.flip)
  batches = sample_stream.LabelCounter(sample_stream.sample_stream(
      records, mining_cfg, args.batch_size, args.seed, prev, shuffle_window=args.shuffle_window))
  os.makedirs(args.workdir, exist_ok=True)
  params = training.train_stage(cfg, workdir=args.workdir, checkpoint_every=args.checkpoint_every,
                                batches=batches)
  out = os.path.join(args.workdir, f"{args.stage}.msgpack")
  training.save_params(out, params)
  images = {"wider": len(w or []), "celeba": len(c or [])} if args.stage != "lnet" else {"celeba": len(c)}
  print(json.dumps({"stage": args.stage, "steps": args.steps, "images": images,
                    "samples": batches.counts, "params": out}), flush=True)
  return 0


def run_evaluate(args) -> int:
  from jaxvis.faces import evaluate
  w, c = _records(args)
  if w is None and c is None and not args.wider_protocol:
    raise InputError("--wider/--celeba/--wider-protocol", "give at least one annotation source")
  if args.pr_curves and not args.wider_protocol:
    raise InputError("--pr-curves", "needs --wider-protocol")
  params = _load_stage_params(args, ("pnet", "rnet", "onet", "lnet"))
  missing = [s for s in ("pnet", "rnet", "onet") if s not in params]
  if missing:
    raise InputError(f"--{missing[0]}", "the cascade needs P-, R- and O-Net parameters")
  fd = _detector_from_args(args, params, {"use_lnet": "lnet" in params})
  result = {}
  if w is not None:
    result["wider"] = evaluate.evaluate_wider(fd, w)
  if c is not None:
    result["celeba"] = evaluate.evaluate_celeba(fd, c, args.nme_normalize)
  if args.wider_protocol:
    result["wider_protocol"] = _official_wider(args, fd)
  print(json.dumps(result), flush=True)
  return 0


def _official_wider(args, fd) -> dict:
  """The wider_eval protocol over the validation images, streamed (faces.wider_eval)."""
  from jaxvis.faces import wider_eval
  gt = wider_eval.head(wider_eval.read_ground_truth(args.wider_protocol), args.limit)
  images = args.wider_images or os.path.join(os.path.dirname(os.path.abspath(args.wider_protocol)),
                                             "WIDER_val", "images")
  if not os.path.isdir(images):
    raise InputError("--wider-images", f"{images} is not a folder of <event>/<image>.jpg")
  preds, unreadable, capped = wider_eval.detect_predictions(fd, gt, images, chunk=args.batch_size)
  for problem in unreadable:
    print(f"error: {problem}", file=sys.stderr)
  results = wider_eval.evaluate(gt, preds)
  if args.pr_curves:
    wider_eval.plot_pr_curves(results, args.pr_curves)
  return {"ap": {s: round(r.ap, 6) for s, r in results.items()},
          "faces": {s: r.faces for s, r in results.items()}, "images": len(gt.images),
          "unreadable": len(unreadable), "images_capped": capped}


# ------------------------------------------------------------------------- QR codes


def _register_qr(sub) -> None:
  q = sub.add_parser("qr", help="find and read QR / Micro QR codes (zxing-cpp + cascade crops, shipped weights)",
                     description="Read QR and Micro QR codes: zxing-cpp on the whole image and on every code the "
                                 "cascade finds (rectified, up-sampled crops), merged by payload and position; "
                                 "codes found but not decoded are reported 'unreadable' with their corners.")
  q.add_argument("images", nargs="+", help="image files (any format PIL reads)")
  q.add_argument("--json", action="store_true", help="print one JSON object per image (default: a table)")
  q.add_argument("--weights", type=ca.existing_file, default=None, help="weights file (default: the shipped jaxvis/assets/qr ones)")
  q.add_argument("--draw", type=ca.output_dir, metavar="DIR", help="write each image with the code outlines drawn into DIR")
  q.add_argument("--min-code-size", type=ca.positive_float, default=20.0)
  q.add_argument("--batch-size", type=ca.positive_int, default=4)
  q.add_argument("--unreadable-score", type=ca.probability, default=0.9,
                 help="detector score from which a code found but not decoded is reported (default 0.9)")
  q.add_argument("--no-verifier", action="store_true", help="skip the DenseNet verification of the cascade's codes")
  q.add_argument("--no-detector", action="store_true", help="zxing-cpp on the whole image only (no cascade)")
  q.add_argument("--max-codes-limit", type=ca.positive_int, default=4096,
                 help="the most code candidates per image the detector may grow to (beyond: overflow: true)")
  q.set_defaults(func=run_qr)


def draw_codes(image, codes):
  """A copy of a PIL image with each code's quadrilateral (first corner marked) and payload;
  decoded codes in green, unreadable ones in red."""
  from PIL import ImageDraw
  out = image.copy()
  d = ImageDraw.Draw(out)
  width = max(1, round(min(out.size) / 200))
  for c in codes:
    pts = [tuple(p) for p in c["corners"]]
    colour = (0, 255, 0) if c.get("status", "decoded") == "decoded" else (255, 0, 0)
    d.line(pts + [pts[0]], fill=colour, width=width)
    x, y = pts[0]
    d.ellipse((x - 2 * width, y - 2 * width, x + 2 * width, y + 2 * width), fill=(255, 0, 0))
    if c.get("payload"):
      d.text((c["box"][0], c["box"][3] + 2), c["payload"][:32], fill=(255, 255, 0))
  return out


def code_json(code: dict) -> dict:
  """A reader code as JSON: the raw bytes as hex."""
  out = {k: v for k, v in code.items() if k != "bytes"}
  out["bytes_hex"] = code["bytes"].hex() if code["bytes"] is not None else None
  return out


def run_qr(args) -> int:
  import numpy as np
  from jaxvis.faces.qr import pipeline, reader
  images = [_load(p) for p in args.images]
  weights = None if args.no_detector else pipeline.load_weights(args.weights)
  results, overflow = reader.read_codes_with_overflow(
      weights, [np.asarray(im) for im in images], batch_size=args.batch_size, min_code_size=args.min_code_size,
      use_detector=not args.no_detector, unreadable_score=args.unreadable_score,
      use_verifier=not args.no_verifier, max_codes_limit=args.max_codes_limit)
  if args.draw:
    os.makedirs(args.draw, exist_ok=True)
  for path, image, codes, over in zip(args.images, images, results, overflow):
    if args.json:
      print(json.dumps({"image": path, "codes": [code_json(c) for c in codes], "overflow": over}), flush=True)
    else:
      decoded = sum(c["status"] == "decoded" for c in codes)
      print(f"{path}: {decoded} decoded, {len(codes) - decoded} unreadable" + (" (overflow)" if over else ""))
      for c in codes:
        print("  {:10s} {:8s} v{:<3} {:4s} box=[{:.1f}, {:.1f}, {:.1f}, {:.1f}]".format(
            c["status"], c["format"] or "?", c["version"] or "?", c["ec_level"] or "?", *c["box"]),
            f"payload={c['payload']!r}")
    if args.draw:
      stem = os.path.splitext(os.path.basename(path))[0]
      draw_codes(image, codes).save(os.path.join(args.draw, f"{stem}_qr.png"))
  return 0
