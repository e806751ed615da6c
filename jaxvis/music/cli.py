"""`jaxvis music ...`: recommend songs for an image, evaluate a user study, train the expression CNN."""

from __future__ import annotations

import argparse
import json
import sys

from jaxvis import cli_args as ca
from jaxvis.errors import InputError


def register(parser: argparse.ArgumentParser) -> None:
  sub = parser.add_subparsers(dest="music_command", metavar="COMMAND")

  p = sub.add_parser("recommend", help="songs whose mood matches an image",
                     description="Image -> impression words -> AV plane -> songs (the paper's "
                                 "pipeline). Prints JSON with --json.")
  p.add_argument("image", type=ca.existing_file, help="image file (PNG, JPEG, ...)")
  p.add_argument("--songs", type=ca.existing_path, required=True,
                 help="plain CSV song_id,valence,arousal,title (values in [-1, 1]), a DEAM "
                      "static-annotation CSV, or a folder holding the DEAM CSVs")
  p.add_argument("--detections", type=ca.existing_file, help="detections JSON (see jaxvis.music.extract)")
  p.add_argument("--caption", help="caption text of the image (method B)")
  p.add_argument("--method", choices=("A", "B"),
                 help="A: detected objects weighted by area; B: caption + expression + "
                      "colours (default: B unless only detections are given)")
  p.add_argument("--lexicon", type=ca.existing_file, help="AV lexicon CSV (Warriner, NRC VAD or word,valence,arousal); "
                                   "default: the bundled impression words")
  p.add_argument("--balanced-lexicon", action="store_true",
                 help="use the same number of impression words per quadrant (the words "
                      "farthest from the origin in each; see lexicon.balanced)")
  p.add_argument("--word2vec", type=ca.existing_file, help="word2vec file read with gensim (e.g. GoogleNews .bin); "
                                    "default: the bundled MiniLM word table")
  p.add_argument("--reference", type=ca.existing_file, help="JSON with 'reference_means' (4 numbers): average words "
                                     "per quadrant over a reference image set")
  p.add_argument("--expression-model", type=ca.existing_file, help="expression CNN saved by `train-expression` "
                                            "(default: the bundled FER2013 model of `fer`)")
  p.add_argument("--no-expression", action="store_true", help="skip the expression step")
  p.add_argument("--no-faces", action="store_true", help="skip face detection")
  p.add_argument("--seed", type=ca.nonnegative_int, default=0)
  p.add_argument("--json", action="store_true", help="print the result as JSON")
  p.add_argument("--plot", type=ca.output_file, help="write the AV-plane figure to this PNG")
  p.set_defaults(func=run_recommend)

  p = sub.add_parser("batch", help="recommend for a folder of images, one JSON line each",
                     description="Runs `recommend` on every image of the given folders/files. "
                                 "Detections and captions come from COCO results files (matched "
                                 "by image id) or from <stem>.json / <stem>.txt beside each image.")
  p.add_argument("inputs", nargs="+", help="image files and/or folders of images")
  p.add_argument("--songs", type=ca.existing_path, required=True, help="as for `recommend`")
  p.add_argument("--coco-detections", type=ca.existing_file, help="COCO detection results JSON (bbox, score, "
                                           "RLE or polygon segmentation)")
  p.add_argument("--coco-categories", type=ca.existing_file, help="COCO annotations file (or category list) naming "
                                           "the category ids; its `images` map ids to files")
  p.add_argument("--coco-captions", type=ca.existing_file, help="COCO caption results JSON [{image_id, caption}]")
  p.add_argument("--score-threshold", type=ca.probability, default=0.3,
                 help="drop detections scoring below this (default 0.3)")
  p.add_argument("--method", choices=("A", "B"))
  p.add_argument("--lexicon", type=ca.existing_file)
  p.add_argument("--reference", type=ca.existing_file)
  p.add_argument("--no-faces", action="store_true")
  p.add_argument("--seed", type=ca.nonnegative_int, default=0)
  p.add_argument("--out", type=ca.output_file, help="JSON-lines file (default: standard output)")
  p.set_defaults(func=run_batch)

  p = sub.add_parser("expressions", help="faces and their expression probabilities",
                     description="Finds faces with jaxvis.faces (MTCNN) and classifies each with "
                                 "the bundled FER2013 model (or --expression-model).")
  p.add_argument("images", nargs="+", help="image files")
  p.add_argument("--expression-model", type=ca.existing_file, help="expression CNN saved by `train-expression`")
  p.add_argument("--json", action="store_true", help="one JSON object per image, one per line")
  p.set_defaults(func=run_expressions)

  p = sub.add_parser("evaluate", help="the paper's measures from user-study files",
                     description="Quadrant agreement (Table 1) and rating measures (Table 2); "
                                 "file formats in jaxvis/music/evaluate.py and docs/music.md.")
  p.add_argument("--user-quadrants", type=ca.existing_file, help="CSV image_id,user_id,valence,arousal (or quadrant)")
  p.add_argument("--system-quadrants", type=ca.existing_file, help="CSV image_id,method,quadrant, or the .jsonl "
                                             "written by `jaxvis music batch`")
  p.add_argument("--ratings", type=ca.existing_file, help="CSV image_id,user_id,method,condition,rating")
  p.add_argument("--json", action="store_true")
  p.set_defaults(func=run_evaluate)

  p = sub.add_parser("train-expression", help="train the expression CNN on a FER2013 CSV")
  p.add_argument("fer2013", type=ca.existing_file, help="fer2013.csv (emotion,pixels,Usage)")
  p.add_argument("--out", type=ca.output_file, required=True, help="where to save the model")
  p.add_argument("--steps", type=ca.positive_int, default=3000)
  p.add_argument("--batch-size", type=ca.positive_int, default=64)
  p.add_argument("--workdir", type=ca.output_dir, help="checkpoints + metrics (resumable)")
  p.add_argument("--tiny", action="store_true", help="the small test network")
  p.set_defaults(func=run_train_expression)


def _error(msg: str) -> int:
  print(f"jaxvis music: error: {msg}", file=sys.stderr)
  return 2


def run_recommend(args) -> int:
  from jaxvis.music import expression, extract, lexicon, pipeline, songs as songs_lib
  from jaxvis.data.images import load_image
  from jaxvis.music.wordvec import WordVectors
  try:
    image = load_image(args.image)
    songs = songs_lib.load_songs(args.songs)
    dets = extract.load_detections(args.detections) if args.detections else None
    lex = lexicon.load_lexicon(args.lexicon) if args.lexicon else None
    if args.balanced_lexicon:
      lex = lexicon.balanced(lex or lexicon.default_lexicon())
    wv = WordVectors.from_word2vec(args.word2vec) if args.word2vec else None
    ref = pipeline.load_reference_means(args.reference) if args.reference else None
    model = (expression.load_model(args.expression_model) if args.expression_model
             else None if args.no_expression else "default")
    rec = pipeline.MusicRecommender(
        songs, lexicon=lex, wordvecs=wv, reference_means=ref, expression_model=model,
        face_boxes=None if args.no_faces else "default",
        config=pipeline.MusicConfig(seed=args.seed))
    result = rec.recommend(image, detections=dets, caption=args.caption, method=args.method)
  except InputError:
    raise                       # reported by jaxvis.cli.main as "error: <where>: <problem>"
  except (ValueError, FileNotFoundError, KeyError, ImportError) as e:
    return _error(str(e))
  out = result.to_json(songs)
  if args.plot:
    from jaxvis.music import plot
    plot.save_plot(out, songs, args.plot, title=args.image)
  if args.json:
    print(json.dumps(out, indent=2))
  else:
    if out["message"]:
      print(out["message"])
    if out["quadrant"]:
      print(f"quadrant {out['quadrant']} ({out['quadrant_name']})")
      print("songs:", ", ".join(
          " ".join(x for x in (s, out["song_titles"].get(s, ""),
                               f"({out['song_artists'][s]})" if out["song_artists"].get(s)
                               else "") if x)
          for s in out["songs"]))
      print("without narrowing:", ", ".join(out["songs_without_narrowing"]))
    if out["skipped_words"]:
      print("words without a vector (left out):", ", ".join(out["skipped_words"]))
  return 0 if out["quadrant"] else 1


def run_batch(args) -> int:
  from jaxvis.music import batch, lexicon, pipeline, songs as songs_lib
  songs = songs_lib.load_songs(args.songs)
  rec = pipeline.MusicRecommender(
      songs, lexicon=lexicon.load_lexicon(args.lexicon) if args.lexicon else None,
      reference_means=pipeline.load_reference_means(args.reference) if args.reference else None,
      face_boxes=None if args.no_faces else "default",
      config=pipeline.MusicConfig(seed=args.seed))
  items = batch.iter_inputs(args.inputs, args.coco_detections, args.coco_categories,
                            args.coco_captions, args.score_threshold)
  out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
  failed = done = 0
  try:
    for item in items:
      record = {"image": item.path, "image_id": item.image_id}
      if item.error is not None:
        failed += 1
        print(f"error: {item.error.where}: {item.error.problem}", file=sys.stderr)
        record["error"] = item.error.problem
      else:
        result = rec.recommend(item.image, item.detections, item.caption, args.method)
        record.update(result.to_json(songs))
        done += 1
      out.write(json.dumps(record) + "\n")
      out.flush()
  finally:
    if args.out:
      out.close()
  print(f"{done} image(s) done, {failed} failed", file=sys.stderr)
  return 2 if failed else 0


def run_expressions(args) -> int:
  from jaxvis.data.images import iter_images
  from jaxvis.music import expression
  model = expression.load_model(args.expression_model) if args.expression_model else None
  failed = 0
  for path, image, error in iter_images(args.images):
    if error is not None:
      # One unreadable file does not stop the batch; it is reported and sets exit status 2.
      failed += 1
      print(f"error: {error.where}: {error.problem}", file=sys.stderr)
      if args.json:
        print(json.dumps({"image": path, "error": error.problem}))
      continue
    faces = expression.image_expressions(image, expression_model=model)
    if args.json:
      print(json.dumps({"image": path, "faces": faces}))
      continue
    print(f"{path}: {len(faces)} face(s)")
    for f in faces:
      top = sorted(f["probabilities"].items(), key=lambda kv: -kv[1])[:3]
      print(f"  box {f['box']}: {f['expression']} ("
            + ", ".join(f"{n} {p:.2f}" for n, p in top) + ")")
  return 2 if failed else 0


def run_evaluate(args) -> int:
  from jaxvis.music import evaluate
  try:
    res = evaluate.evaluate_files(args.user_quadrants, args.system_quadrants, args.ratings)
  except InputError:
    raise
  except (ValueError, FileNotFoundError) as e:
    return _error(str(e))
  print(json.dumps(res, indent=None if args.json else 2, default=float))
  return 0


def run_train_expression(args) -> int:
  from jaxvis.music import expression
  try:
    data = expression.read_fer2013(args.fer2013)
  except InputError:
    raise
  except (ValueError, FileNotFoundError) as e:
    return _error(str(e))
  if "train" not in data:
    return _error(f"fer2013: {args.fer2013!r} has no Training rows")
  cfg = expression.ExpressionTrainConfig(num_steps=args.steps, batch_size=args.batch_size,
                                         tiny=args.tiny)
  num_classes = int(max(int(d["label"].max()) for d in data.values()) + 1)
  num_classes = max(num_classes, len(expression.FER2013_CLASSES))
  variables = expression.train_expression_model(data["train"], cfg, num_classes,
                                                workdir=args.workdir, progress=True)
  model = expression.make_model(cfg, num_classes)
  for split in ("val", "test"):
    if split in data:
      print(f"{split} accuracy: {expression.accuracy(model, variables, data[split]):.4f}")
  names = expression.FER2013_CLASSES + ("contempt",) * (num_classes > 7)
  expression.save_model(args.out, model, variables, names[:num_classes])
  print(f"saved {args.out}")
  return 0
