"""MTCNN end to end on WIDER FACE + CelebA: train P -> R -> O (-> L), then the official evaluation.

Each stage streams its samples from the annotation files (`faces.sample_stream`: one image
decoded and mined at a time, window-shuffled, flip augmentation), R-Net mines the trained
P-Net's proposals and O-Net the trained P- and R-Net's, as the paper does; L-Net trains on
CelebA landmarks. Every stage checkpoints in `--workdir/<stage>/` and a re-run resumes it
(a finished stage's `<stage>.msgpack` is reused). The trained cascade is then scored with
the WIDER FACE protocol (easy / medium / hard AP over `eval_tools/*.mat`) beside two
references on the same images: the shipped pretrained cascade (the `mtcnn` package's
weights) and a trivial centre-box detector. Landmark NME (both normalisations) on CelebA.

    # the real thing (a GPU host; WIDER_ROOT holds WIDER_train/, WIDER_val/, wider_face_split/, eval_tools/)
    python experiments/faces_wider.py --wider-root WIDER_ROOT --celeba CELEBA_ROOT \
        --workdir runs/mtcnn --steps 100000 --batch-size 384 --json runs/mtcnn/result.json
    # tiny: generates both datasets in their published layouts under --workdir/data
    python experiments/faces_wider.py --tiny --images 200 --workdir /tmp/fw --json /tmp/fw.json

With `--tiny` the trees are real photos with pasted real faces (`faces.fixtures`), in the
exact WIDER (`wider_face_split/wider_face_{train,val}_bbx_gt.txt`, `WIDER_*/images/<event>/`,
`eval_tools/wider_{face,easy,medium,hard}_val.mat`) and CelebA (`Anno/list_*_celeba.txt`,
`img_celeba/`) layouts; `--images N` splits 80 / 20 into train and validation images.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

from jaxvis import cli_args as ca
from jaxvis.errors import InputError
from jaxvis.faces import (FaceDetector, celeba, evaluate, fixtures, sample_stream, training, training_data,
                          weights, wider, wider_eval)

STAGES = ("pnet", "rnet", "onet", "lnet")
# The tiny trees: small frames with faces of 24-72 px (all four stages see faces).
_TINY_SHAPE = (128, 160)
_TINY_FACES = (24, 32, 48, 64)


def parse_args(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--wider-root", type=ca.existing_dir, help="folder with WIDER_train/, WIDER_val/, "
                 "wider_face_split/ and eval_tools/ (the .mat files)")
  p.add_argument("--celeba", type=ca.existing_dir, help="CelebA folder (in the wild or aligned layout)")
  p.add_argument("--tiny", action="store_true", help="generate both datasets under --workdir/data")
  p.add_argument("--images", type=ca.int_at_least(5), default=200, help="--tiny: WIDER images (80%% train)")
  p.add_argument("--celeba-images", type=ca.positive_int, default=None, help="--tiny: CelebA images (default images/4)")
  p.add_argument("--workdir", type=ca.output_dir, required=True, help="checkpoints, weights, generated data")
  p.add_argument("--steps", type=ca.positive_int, default=200, help="optimizer steps per stage")
  p.add_argument("--batch-size", type=ca.positive_int, default=64)
  p.add_argument("--learning-rate", type=ca.positive_float, default=1e-3)
  p.add_argument("--lr-schedule", default="piecewise", choices=training.LR_SCHEDULES)
  p.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
  p.add_argument("--shuffle-window", type=ca.positive_int, default=None,
                 help="samples shuffled together (default 4096; --tiny: 256)")
  p.add_argument("--limit", type=ca.positive_int, default=None, help="use only the first N images of each file")
  p.add_argument("--eval-batch-size", type=ca.positive_int, default=8)
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--json", type=ca.output_file, required=True, metavar="PATH")
  args = p.parse_args(argv)
  if not args.tiny and not (args.wider_root and args.celeba):
    p.error("give --wider-root and --celeba, or --tiny")
  if args.shuffle_window is None:
    args.shuffle_window = 256 if args.tiny else 4096
  return args


def generate_tiny(root: str, n_images: int, n_celeba: int, seed: int) -> tuple[str, str]:
  """WIDER (train + val with the protocol's .mat files) and CelebA trees; returns their roots."""
  wider_root, celeba_root = os.path.join(root, "wider"), os.path.join(root, "celeba")
  if not os.path.isdir(os.path.join(wider_root, "eval_tools")):
    n_val = max(1, n_images // 5)
    fixtures.write_wider(wider_root, n_images - n_val, seed, "train", _TINY_SHAPE, 3, _TINY_FACES)
    fixtures.write_wider_val_protocol(wider_root, n_val, seed + 1, _TINY_SHAPE, 3, _TINY_FACES)
  if not os.path.isdir(os.path.join(celeba_root, "Anno")):
    fixtures.write_celeba(celeba_root, n_celeba, seed + 2, shape=_TINY_SHAPE, face_sizes=(48, 64))
  return wider_root, celeba_root


def train_cascade(args, train_records, celeba_records) -> tuple[dict, list]:
  """Trains (or resumes, or reuses) each stage in order; returns params and one log row per stage."""
  params, rows = {}, []
  for stage in STAGES:
    out = os.path.join(args.workdir, stage, f"{stage}.msgpack")
    if os.path.isfile(out):
      params[stage] = training.load_params(out)
      rows.append({"stage": stage, "reused": out})
      continue
    records = celeba_records if stage == "lnet" else train_records + celeba_records
    mining_cfg = training_data.MiningConfig(stage, flip=True)
    prev = {k: params[k] for k in ("pnet", "rnet") if k in params} if stage in ("rnet", "onet") else None
    batches = sample_stream.LabelCounter(sample_stream.sample_stream(
        records, mining_cfg, args.batch_size, args.seed, prev, shuffle_window=args.shuffle_window))
    cfg = training.TrainConfig(stage=stage, steps=args.steps, batch_size=args.batch_size,
                               learning_rate=args.learning_rate, lr_schedule=args.lr_schedule,
                               seed=args.seed, dtype=args.dtype)
    start = time.perf_counter()
    params[stage] = training.train_stage(cfg, workdir=os.path.join(args.workdir, stage), batches=batches,
                                         checkpoint_every=max(1, args.steps // 4))
    seconds = time.perf_counter() - start
    training.save_params(out, params[stage])
    trained = sum(batches.counts.values())
    row = {"stage": stage, "steps": args.steps, "samples": batches.counts, "seconds": round(seconds, 2),
           "samples_per_s_incl_mining": round(trained / seconds, 1)}
    rows.append(row)
    print(json.dumps(row), flush=True)
  return params, rows


def centre_box_predictions(gt, images_dir: str, side: float) -> dict:
  """The trivial detector: one box of the median training face size at each image's centre."""
  from PIL import Image
  preds = {}
  for event, name in zip(gt.events, gt.images):
    with Image.open(wider_eval.image_path(images_dir, event, name)) as im:
      w, h = im.size
    preds[name] = np.array([[w / 2 - side / 2, h / 2 - side / 2, side, side, 1.0]])
  return preds


def evaluate_all(args, params, wider_root: str, celeba_records, train_records) -> dict:
  gt = wider_eval.head(wider_eval.read_ground_truth(os.path.join(wider_root, "eval_tools")), args.limit)
  images_dir = os.path.join(wider_root, "WIDER_val", "images")
  trained = FaceDetector(params=params, batch_size=args.eval_batch_size, options={"use_lnet": "lnet" in params})
  pretrained = FaceDetector(params=weights.load_pretrained(), batch_size=args.eval_batch_size)
  heights = np.concatenate([r.boxes[:, 3] - r.boxes[:, 1] + 1 for r in train_records if len(r.boxes)])
  out = {}
  for name, det in (("trained", trained), ("pretrained_mtcnn", pretrained)):
    preds, unreadable, capped = wider_eval.detect_predictions(det, gt, images_dir, chunk=args.eval_batch_size)
    res = wider_eval.evaluate(gt, preds)
    out[name] = {"wider_ap": {s: round(r.ap, 4) for s, r in res.items()}, "unreadable": len(unreadable),
                 "images_capped": capped}
    nme = evaluate.evaluate_celeba(det, celeba_records[:200])
    out[name]["celeba"] = {k: nme[k] for k in ("nme_interocular", "nme_box", "faces_matched", "faces_missed")}
  res = wider_eval.evaluate(gt, centre_box_predictions(gt, images_dir, float(np.median(heights))))
  out["centre_box"] = {"wider_ap": {s: round(r.ap, 4) for s, r in res.items()}}
  out["faces"] = {s: r.faces for s, r in res.items()}
  out["val_images"] = len(gt.images)
  return out


def main(argv=None) -> int:
  args = parse_args(argv)
  try:
    if args.tiny:
      wider_root, celeba_root = generate_tiny(os.path.join(args.workdir, "data"), args.images,
                                              args.celeba_images or max(4, args.images // 4), args.seed)
    else:
      wider_root, celeba_root = args.wider_root, args.celeba
    train_records = wider.read_bbx_gt(os.path.join(wider_root, "wider_face_split", "wider_face_train_bbx_gt.txt"))
    celeba_records = celeba.read_celeba(celeba_root)
    train_records, celeba_records = train_records[:args.limit], celeba_records[:args.limit]
    params, rows = train_cascade(args, train_records, celeba_records)
    result = {"train_images": len(train_records), "celeba_images": len(celeba_records), "stages": rows,
              "evaluation": evaluate_all(args, params, wider_root, celeba_records, train_records)}
  except InputError as e:
    print(f"error: {e.where}: {e.problem}", file=sys.stderr)
    return 2
  with open(args.json, "w") as f:
    json.dump(result, f, indent=1)
  print(json.dumps(result["evaluation"]), flush=True)
  return 0


if __name__ == "__main__":
  sys.exit(main())
