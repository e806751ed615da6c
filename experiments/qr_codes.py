"""QR codes with the MTCNN cascade (the application in the MTCNN notes): train and evaluate.

Generates training scenes, trains P-/R-/O-Net (box + 4 corners) and the DenseNet
verifier from a seed, then evaluates on held-out scenes (disjoint seeds and
background photos): detection AP at IoU 0.5, corner error in pixels, and the
share of codes whose payload is read — against OpenCV's QRCodeDetector on the
same full images.

  python experiments/qr_codes.py --json results/qr.json [--seed 0] [--save-weights]
  python experiments/qr_codes.py --tiny --json /tmp/qr_tiny.json      # seconds to a minute

--json gets exactly {"jaxvis": {"ap", "corner_error_px", "decode_rate"}, "opencv": {"decode_rate"}};
the fuller breakdown (matched/decoded counts, OpenCV single vs multi, timings) is printed as
JSON lines on stdout. --save-weights writes jaxvis/assets/qr/qr_weights.msgpack (the weights
`jaxvis faces qr` ships with).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time


def parse_args(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--tiny", action="store_true", help="a few scenes and steps (for tests)")
  p.add_argument("--json", required=True, metavar="PATH", help="where the result JSON goes")
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--heldout", type=int, default=None, help="held-out scenes (default 500; tiny: 6)")
  p.add_argument("--workdir", default=None, help="checkpoints per stage (a rerun resumes)")
  p.add_argument("--save-weights", nargs="?", const="", default=None, metavar="PATH",
                 help="write the trained weights (default path: the shipped jaxvis/assets/qr file)")
  p.add_argument("--weights", default=None, help="evaluate these weights instead of training")
  p.add_argument("--document-share", type=float, default=None,
                 help="share of training scenes from scenes_documents (default: the config's, 0)")
  p.add_argument("--init-weights", default=None, help="fine-tune the cascade from these weights")
  p.add_argument("--set", action="append", default=[], metavar="FIELD=NUMBER",
                 help="override a numeric QrTrainConfig field, e.g. --set onet_steps=600 (repeatable)")
  return p.parse_args(argv)


def _overrides(items, cfg) -> dict:
  """--set FIELD=VALUE pairs as QrTrainConfig fields (ints, or floats for learning_rate)."""
  from jaxvis.errors import InputError
  fields = {f.name: f for f in dataclasses.fields(cfg)}
  out = {}
  for item in items:
    name, _, value = item.partition("=")
    if name not in fields or not isinstance(getattr(cfg, name), (int, float)) or not value:
      raise InputError("--set", f"expected FIELD=NUMBER with a numeric QrTrainConfig field, got {item!r}")
    try:
      out[name] = type(getattr(cfg, name))(value)
    except ValueError:
      raise InputError("--set", f"{name}: expected a {type(getattr(cfg, name)).__name__}, got {value!r}") from None
  return out


def main(argv=None) -> int:
  args = parse_args(argv)
  from jaxvis.cli import configure_jax
  configure_jax()
  from jaxvis.faces.qr import evaluation, pipeline, reader, scenes, train

  def log(d):
    print(json.dumps(d), flush=True)

  t_start = time.perf_counter()
  cfg = train.QrTrainConfig.tiny() if args.tiny else train.QrTrainConfig()
  cfg = dataclasses.replace(cfg, seed=args.seed)
  if args.document_share is not None:
    cfg = dataclasses.replace(cfg, document_share=args.document_share)
  if args.init_weights:
    cfg = dataclasses.replace(cfg, init_weights=args.init_weights)
  cfg = dataclasses.replace(cfg, **_overrides(args.set, cfg))
  if args.weights:
    weights = pipeline.load_weights(args.weights)
  else:
    weights = train.train_all(cfg, workdir=args.workdir, log=log)
  t_train = time.perf_counter() - t_start
  if args.save_weights is not None:
    path = args.save_weights or pipeline.WEIGHTS_FILE
    pipeline.save_weights(path, weights)
    log({"weights": path, "bytes": os.path.getsize(path)})
  n = args.heldout if args.heldout is not None else (6 if args.tiny else 500)
  t0 = time.perf_counter()
  held = [scenes.make_scene("heldout", i, cfg.scene) for i in range(n)]
  results = reader.read_codes(weights, [s.image for s in held], batch_size=4)
  ours = evaluation.score_jaxvis(results, held)
  t_ours = time.perf_counter() - t0
  t0 = time.perf_counter()
  theirs = evaluation.score_opencv(held)
  t_cv = time.perf_counter() - t0
  out = {"jaxvis": {k: ours[k] for k in ("ap", "corner_error_px", "decode_rate")},
         "opencv": {"decode_rate": theirs["decode_rate"]}}
  details = {"jaxvis": ours, "opencv": theirs, "heldout_scenes": n, "seed": args.seed, "tiny": args.tiny,
             "train_s": round(t_train, 1), "eval_jaxvis_s": round(t_ours, 1),
             "eval_opencv_s": round(t_cv, 1), "total_s": round(time.perf_counter() - t_start, 1),
             "load_average": os.getloadavg()}
  log({"details": details})
  os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
  with open(args.json, "w") as f:
    json.dump(out, f, indent=1)
  if args.save_weights is not None:   # the table the demo shows beside the shipped weights
    with open(os.path.join(os.path.dirname(os.path.abspath(path)), "qr_results.json"), "w") as f:
      json.dump(dict(out, details=details), f, indent=1)
  log(out)
  return 0


if __name__ == "__main__":
  sys.exit(main())
