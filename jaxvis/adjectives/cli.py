"""`jaxvis adjectives ...` subcommands.

    jaxvis adjectives rank --relevant DIR --irrelevant DIR --json ranking.json
        [--labels LABELS.csv] [--truth RELEVANT.txt] [--save-model MODEL] [--readout top]
    jaxvis adjectives train --relevant DIR --irrelevant DIR --out MODEL
    jaxvis adjectives score MODEL IMAGE_OR_DIR ... [--truth RELEVANT.txt] [--json ranking.json]

DIR of --relevant holds the pseudo-relevant images (the "adjective noun"
query's results, P); --irrelevant the pseudo-irrelevant ones (the "noun"
query's results, Q). Every image of both is ranked by its learnt relevance.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys

from jaxvis import cli_args as ca
from jaxvis.errors import InputError


def register(parser) -> None:
  sub = parser.add_subparsers(dest="adjectives_command")
  p = sub.add_parser("rank", help="rank the images of an 'adjective noun' query",
                     description=__doc__)
  _query_arguments(p)
  p.add_argument("--json", type=ca.output_file, required=True, help="where to write the ranking")
  p.add_argument("--save-model", type=ca.output_dir, default=None,
                 help="also save the trained query model here (for `adjectives score`)")
  p.set_defaults(func=run_rank)

  p = sub.add_parser("train", help="train a query model and save it (rank new images with `score`)",
                     description="Trains the pair-wise SCAE and relevance function of one query.")
  _query_arguments(p)
  p.add_argument("--out", type=ca.output_dir, required=True, help="folder for the saved model")
  p.add_argument("--json", type=ca.output_file, default=None, help="also write the ranking of P and Q")
  p.set_defaults(func=run_train)

  p = sub.add_parser("score", help="rank new images with a saved query model",
                     description="Ranks images by the relevance a saved query model gives them.")
  p.add_argument("model", type=ca.existing_dir, help="folder written by `adjectives train` / --save-model")
  p.add_argument("images", nargs="+", type=ca.existing_path, help="image files and/or folders")
  p.add_argument("--truth", type=ca.existing_file, default=None,
                 help="file of the truly relevant images' names: adds precision@n and AP")
  p.add_argument("--json", type=ca.output_file, default=None, help="write the ranking here")
  p.set_defaults(func=run_score)


def _query_arguments(p) -> None:
  p.add_argument("--relevant", type=ca.existing_dir, required=True, help="folder of pseudo-relevant images (P)")
  p.add_argument("--irrelevant", type=ca.existing_dir, required=True, help="folder of pseudo-irrelevant images (Q)")
  p.add_argument("--query", default=None, help="the query text, stored in the JSON")
  p.add_argument("--size", type=ca.int_at_least(16), default=100, help="image side fed to the network (100)")
  p.add_argument("--objective", choices=("pairwise", "plain"), default="pairwise")
  p.add_argument("--steps", type=ca.positive_int, default=None,
                 help="steps per greedy level and of fine-tuning (default 300; 10 with --tiny)")
  p.add_argument("--clusters", type=ca.positive_int, default=2, help="K of the K-means on pairs")
  p.add_argument("--pooling", default=None,
                 help="comma-separated per-cell statistics of the hidden maps: mean, std, contrast, "
                      "log_contrast (default mean,log_contrast; 'mean' = session 1's features)")
  p.add_argument("--readout", choices=("pooled", "top", "top_pooled"), default=None,
                 help="codes K-means and the relevance function read: pooled (the default: both "
                      "levels, 2x2 cells), top (the paper's raw top-level maps), top_pooled; "
                      "sets the pooling and standardisation, so not with --pooling/--no-standardize")
  p.add_argument("--no-standardize", action="store_true",
                 help="K-means on raw (not unit-variance) difference features")
  p.add_argument("--relevance", choices=("logistic", "pairwise", "centroid"), default="logistic",
                 help="relevance function fitted on the selected pairs")
  p.add_argument("--labels", type=ca.existing_file, default=None,
                 help="'name,label' lines giving every image's object label: pairs are made only "
                      "between images of the same label (the paper's object-similar pairs)")
  p.add_argument("--truth", type=ca.existing_file, default=None,
                 help="file of the truly relevant images' names: adds precision@n and AP")
  p.add_argument("--workdir", type=ca.output_dir, default=None, help="checkpoints (a rerun resumes)")
  p.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
  p.add_argument("--tiny", action="store_true", help="small network and few steps")


def search_config(args, num_images: int):
  """The `SearchConfig` the query options ask for (`num_images`: the smaller of P and Q)."""
  from jaxvis.adjectives import features, search
  from jaxvis.adjectives.train import SCAEConfig
  if args.readout and (args.pooling is not None or args.no_standardize):
    raise InputError("--readout", "sets the pooling and the standardisation itself; drop "
                     "--pooling / --no-standardize")
  try:
    pooling = features.check_pooling((args.pooling or "mean,log_contrast").split(","))
  except InputError as e:
    raise InputError("--pooling", e.problem) from None
  scae = SCAEConfig.tiny() if args.tiny else SCAEConfig()
  steps = args.steps if args.steps is not None else (scae.greedy_steps if args.tiny else 300)
  batch = max(1, min(scae.batch_size, num_images))
  scae = dataclasses.replace(scae, objective=args.objective, greedy_steps=steps,
                             finetune_steps=steps, dtype=args.dtype, batch_size=batch)
  config = search.SearchConfig(scae=scae, num_clusters=args.clusters,
                               kmeans_restarts=3 if args.tiny else 10, pooling=pooling,
                               standardize=not args.no_standardize, relevance=args.relevance)
  return search.with_readout(config, args.readout) if args.readout else config


def _train_query(args):
  """(P files, Q files, config, result): the query trained from the CLI's options."""
  from jaxvis.adjectives import data, saved, search
  search_config(args, 1)  # every option is checked before any image is read
  p_files = data.list_images(args.relevant)  # InputError names the folder
  q_files = data.list_images(args.irrelevant)
  labels_p = labels_q = None
  if args.labels:
    labels_p = saved.read_labels(args.labels, p_files)
    labels_q = saved.read_labels(args.labels, q_files)
  truth = saved.read_truth(args.truth, p_files + q_files) if args.truth else None
  config = search_config(args, min(len(p_files), len(q_files)))
  P = data.load_images(p_files, args.size)
  Q = data.load_images(q_files, args.size)
  result = search.rank_query(P, Q, config, labels_p=labels_p, labels_q=labels_q,
                             workdir=args.workdir, progress=not args.tiny)
  return p_files, q_files, config, result, truth


def _ranking_json(files, scores, order, truth=None, sets=None) -> dict:
  from jaxvis.adjectives import search
  ranking = [{"rank": r + 1, "path": files[i], "score": float(scores[i]),
              **({"set": sets[i]} if sets else {}),
              **({"relevant": bool(truth[i])} if truth is not None else {})}
             for r, i in enumerate(order)]
  out = {"ranking": ranking}
  if truth is not None:
    n = int(truth.sum())
    out["truth"] = {"relevant": n, "average_precision": search.average_precision(scores, truth),
                    **{f"precision_at_{k}": search.precision_at(order, truth, k)
                       for k in (10, 20, n) if 1 <= k <= len(order)}}
  return out


def _write_json(path: str, payload: dict) -> None:
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, "w") as f:
    json.dump(payload, f, indent=2)


def run_rank(args) -> int:
  from jaxvis.adjectives import saved
  p_files, q_files, config, result, truth = _train_query(args)
  files = p_files + q_files
  sets = ["relevant"] * len(p_files) + ["irrelevant"] * len(q_files)
  sel = result.clusters.selected
  out = {
      "query": args.query,
      "objective": args.objective,
      "num_pairs": int(len(result.pairs.p)),
      "cluster_sizes": result.clusters.sizes.tolist(),
      "truly_relevant": [p_files[i] for i in result.pairs.p[sel]],
      "truly_irrelevant": [q_files[i] for i in result.pairs.q[sel]],
      **_ranking_json(files, result.scores, result.order, truth, sets),
  }
  _write_json(args.json, out)
  if args.save_model:
    saved.save(args.save_model, config, result, args.size, args.query)
  extra = f", AP {out['truth']['average_precision']:.3f}" if truth is not None else ""
  print(f"ranked {len(files)} images ({out['num_pairs']} pairs, largest cluster "
        f"{int(sel.sum())}{extra}) -> {args.json}")
  return 0


def run_train(args) -> int:
  from jaxvis.adjectives import saved
  p_files, q_files, config, result, truth = _train_query(args)
  saved.save(args.out, config, result, args.size, args.query)
  if args.json:
    _write_json(args.json, _ranking_json(p_files + q_files, result.scores, result.order, truth))
  print(f"saved the query model to {args.out} ({len(result.pairs.p)} pairs, largest cluster "
        f"{int(result.clusters.selected.sum())})")
  return 0


def run_score(args) -> int:
  from jaxvis.adjectives import data, relevance, saved
  model = saved.load(args.model)
  files = []
  for path in args.images:
    files.extend(data.list_images(path) if os.path.isdir(path) else [path])
  truth = saved.read_truth(args.truth, files) if args.truth else None
  scores = saved.score_images(model, data.load_images(files, model.image_size))
  order = relevance.rank(scores)
  out = {"query": model.query, **_ranking_json(files, scores, order, truth)}
  if args.json:
    _write_json(args.json, out)
  else:
    print(json.dumps(out))
  if truth is not None:
    print(f"AP {out['truth']['average_precision']:.3f} over {len(files)} images", file=sys.stderr)
  return 0
