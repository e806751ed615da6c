"""`jaxvis outfits ...`: synth, train, evaluate, recommend."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

from jaxvis import cli_args as ca
from jaxvis.errors import InputError


# flag -> (OutfitsConfig field, validator): every value is checked before any work starts
_FLAGS = {
    "data": ("data", ca.existing_path), "data_format": ("data_format", str), "variant": ("variant", str),
    "min_likes": ("min_likes", ca.nonnegative_int), "model": ("model", str),
    "hidden": ("hidden", ca.positive_int), "dropout": ("dropout", ca.dropout_rate),
    "optimizer": ("optimizer", str), "lr": ("learning_rate", ca.positive_float),
    "momentum": ("momentum", ca.float_in(0.0, 1.0, high_open=True)),
    "batch_size": ("batch_size", ca.positive_int), "steps": ("num_steps", ca.positive_int),
    "backbone": ("backbone", str), "image_size": ("image_size", ca.int_at_least(16)),
    "weights": ("weights", ca.existing_file), "feature_cache": ("feature_cache", ca.output_file),
    "dtype": ("dtype", str), "eval_every": ("eval_every", ca.nonnegative_int), "seed": ("seed", int),
    "max_items": ("max_items", ca.positive_int), "checkpoint_every": ("checkpoint_every", ca.nonnegative_int),
}


def register(parser: argparse.ArgumentParser) -> None:
  sub = parser.add_subparsers(dest="outfits_command", metavar="COMMAND")

  p = sub.add_parser("synth", help="write a synthetic dataset in the Polyvore Outfits format")
  p.add_argument("out", type=ca.output_dir, help="output folder (the polyvore_outfits root)")
  p.add_argument("--rule", choices=("hue", "styles"), default="hue",
                 help="hue: good iff one hue family (a hue score solves it); styles: the "
                      "relational benchmark colour statistics cannot solve")
  p.add_argument("--outfits", type=ca.positive_int, nargs=3, default=None,
                 metavar=("TRAIN", "VALID", "TEST"),
                 help="default 300 60 60 (hue), 2000 200 200 (styles)")
  p.add_argument("--items-per-style", type=ca.positive_int, default=24, help="styles: per part, style, split")
  p.add_argument("--items-per-palette", type=ca.positive_int, default=6)
  p.add_argument("--palettes", type=ca.positive_int, default=4)
  p.add_argument("--image-size", type=ca.int_at_least(16), default=64)
  p.add_argument("--seed", type=int, default=0)
  p.set_defaults(func=run_synth)

  p = sub.add_parser("train", help="train an outfit grader on a Polyvore Outfits folder")
  p.add_argument("--workdir", type=ca.output_dir, required=True,
                 help="checkpoints, metrics.jsonl, features")
  p.add_argument("--tiny", action="store_true", help="start from the CPU-sized tiny config")
  p.add_argument("--paper-sgd", action="store_true",
                 help="the paper's optimizer: SGD, lr 1e-4, momentum 0.9")
  p.add_argument("--standardize", action=argparse.BooleanOptionalAction, default=None,
                 help="z-score item features by training statistics (not in the paper)")
  p.add_argument("--no-filter", action="store_true", help="skip the paper's validity filter")
  p.add_argument("--allow-random-backbone", action="store_true",
                 help="without --weights, extract item features with a seeded random-initialised "
                      "backbone (refused otherwise)")
  for flag, (_, typ) in _FLAGS.items():
    p.add_argument("--" + flag.replace("_", "-"), dest=flag, type=typ, default=None)
  p.add_argument("--quiet", action="store_true")
  p.set_defaults(func=run_train)

  p = sub.add_parser("evaluate", help="accuracy, precision, AUC, compatibility AUC, FITB")
  p.add_argument("--workdir", type=ca.existing_dir, required=True)
  p.add_argument("--data", type=ca.existing_path, default=None, help="another Polyvore Outfits folder")
  p.add_argument("--split", default="test", choices=("train", "valid", "test"))
  p.add_argument("--quiet", action="store_true")
  p.set_defaults(func=run_evaluate)

  p = sub.add_parser("recommend", help="the best outfits of a closet")
  p.add_argument("closet", type=ca.existing_path, help="folder of images (parts from file names, optional parts.json), "
                                "or an item-id closet JSON")
  p.add_argument("--workdir", type=ca.existing_dir, required=True, help="a trained grader")
  p.add_argument("--top", type=ca.positive_int, default=10)
  p.add_argument("--with", dest="include", action="append", default=[], metavar="ITEM",
                 help="every outfit wears this item (file name, with or without extension)")
  p.add_argument("--without", dest="exclude", action="append", default=[], metavar="ITEM",
                 help="no outfit wears this item")
  p.add_argument("--infer-parts", action="store_true",
                 help="photos whose names have no clothing term get the part the grader's part "
                      "classifier (trained on the dataset's categories) predicts")
  p.add_argument("--keep-duplicates", action="store_true",
                 help="keep near-duplicate photos (by default one of each group is kept)")
  p.add_argument("--duplicate-ratio", type=ca.positive_float, default=0.1,
                 help="near-duplicate: thumbnail (or feature) distance below this times the "
                      "closet's median distance")
  p.add_argument("--beam", type=ca.positive_int, default=64, help="attention grader: beam width")
  p.add_argument("--exact", action="store_true",
                 help="attention grader: score every outfit instead of beam search")
  p.add_argument("--json", action="store_true", help="print JSON")
  p.add_argument("--sheet", type=ca.output_file, default=None, help="write a contact sheet PNG here")
  p.set_defaults(func=run_recommend)


def config_from_args(args):
  from jaxvis.outfits import training
  base = training.OutfitsConfig.tiny() if args.tiny else training.OutfitsConfig()
  changes = {field: getattr(args, flag) for flag, (field, _) in _FLAGS.items()
             if getattr(args, flag) is not None}
  if args.paper_sgd:
    changes.update(optimizer="sgd", learning_rate=1e-4, momentum=0.9)
  if args.standardize is not None:
    changes["standardize_features"] = args.standardize
  if args.no_filter:
    changes["filter_valid"] = False
  if args.allow_random_backbone:
    changes["allow_random_backbone"] = True
  cfg = dataclasses.replace(base, **changes)
  if not cfg.data:
    raise InputError("--data", "a dataset folder (or crawled sets file) is required")
  try:
    return cfg.validate()
  except InputError as e:  # name the flag the user typed
    flag = next((f for f, (field, _) in _FLAGS.items() if field == e.where), e.where)
    raise InputError(f"--{flag.replace('_', '-')}", e.problem) from None


def run_synth(args) -> int:
  from jaxvis.outfits import styles, synthetic
  if args.rule == "styles":
    styles.make_dataset(args.out, styles.StyleConfig(
        num_outfits=tuple(args.outfits or (2000, 200, 200)), items_per_style=args.items_per_style,
        image_size=args.image_size, seed=args.seed))
    print(f"wrote the relational styles benchmark to {args.out}")
    return 0
  cfg = synthetic.SyntheticConfig(num_outfits=tuple(args.outfits or (300, 60, 60)),
                                  items_per_palette=args.items_per_palette,
                                  num_palettes=args.palettes, image_size=args.image_size,
                                  seed=args.seed)
  synthetic.make_dataset(args.out, cfg)
  print(f"wrote a synthetic Polyvore Outfits dataset to {args.out}")
  return 0


def run_train(args) -> int:
  from jaxvis.outfits import training
  cfg = config_from_args(args)
  _, _, result = training.train(cfg, args.workdir, progress=not args.quiet)
  print(json.dumps({"model": cfg.model, **result}))
  return 0


def run_evaluate(args) -> int:
  from jaxvis.outfits import training
  result = training.evaluate_workdir(args.workdir, args.split, args.data, progress=not args.quiet)
  print(json.dumps(result))
  return 0


def run_recommend(args) -> int:
  from jaxvis.outfits import closet as closet_lib
  from jaxvis.outfits import duplicates, features, recommend, sheet, training
  closet = closet_lib.load_closet(args.closet)
  grader = training.load(args.workdir)
  features.check_backbone(grader.cfg.weights, grader.cfg.allow_random_backbone)
  messages: list[str] = []
  if closet.unplaced and args.infer_parts:
    closet = _infer_parts(closet, args.closet, grader, messages)
  if closet.unplaced:
    messages.append(f"left out (no clothing term in the file name, not in parts.json): "
                    f"{', '.join(closet.unplaced)}")
  include = [closet.index_of(n, "--with") for n in args.include]
  exclude = [closet.index_of(n, "--without") for n in args.exclude]
  raw = closet_lib.closet_features(closet, grader.cfg.feature_config())
  if not args.keep_duplicates:
    groups = duplicates.near_duplicate_groups(duplicates.descriptors(closet.images, raw),
                                              args.duplicate_ratio, closet.parts)
    for g in groups:
      messages.append(f"near-duplicate photos: {' = '.join(closet.names[i] for i in g)} "
                      f"(keeping {closet.names[g[0]]})")
    first = {i: g[0] for g in groups for i in g}
    keep = duplicates.keep_one_per_group(len(closet.names), groups)
    new_index = {old: new for new, old in enumerate(keep)}
    include = sorted({new_index[first.get(i, i)] for i in include})
    exclude = sorted({new_index[first.get(i, i)] for i in exclude})
    closet, raw = closet_lib.subset(closet, keep), raw[keep]
  outfits = recommend.recommend_closet(grader, closet, args.top, messages, include=include,
                                       exclude=exclude, beam=args.beam, exact=args.exact,
                                       feats=raw)
  for m in messages:
    print(m, file=sys.stderr)
  if args.sheet:
    sheet.save_contact_sheet(args.sheet, outfits, closet.images, closet.names)
  rows = [{"rank": r + 1, "score": o.score,
           "configuration": "+".join(recommend.CONFIGURATIONS[o.configuration]),
           "items": [{"name": closet.names[i], "part": closet.parts[i]} for i in o.items]}
          for r, o in enumerate(outfits)]
  if args.json:
    print(json.dumps(rows))
  else:
    for row in rows:
      print(f"#{row['rank']:<3d} {row['score']:.4f}  {row['configuration']:<24s} "
            + ", ".join(i["name"] for i in row["items"]))
  if not outfits:
    print("jaxvis outfits recommend: the closet fills no configuration", file=sys.stderr)
    return 1
  return 0


def _infer_parts(closet, folder: str, grader, messages: list[str]):
  """The closet with its unplaced photos given the part classifier's parts."""
  from jaxvis.outfits import closet as closet_lib
  if grader.parts is None:
    raise InputError("--infer-parts", "this grader was saved without a part classifier "
                                      "(retrain it to get one)")
  images = [os.path.join(folder, n) for n in closet.unplaced]
  probe = closet_lib.Closet(list(closet.unplaced), ["upper"] * len(images), images)
  raw = closet_lib.closet_features(probe, grader.cfg.feature_config())
  predicted = grader.parts.predict(grader.to_grader_space(raw))
  for name, part in zip(closet.unplaced, predicted):
    messages.append(f"part from the classifier: {name} -> {part}")
  return closet_lib.Closet(closet.names + list(closet.unplaced), closet.parts + predicted,
                           closet.images + images)
