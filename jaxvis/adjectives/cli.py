"""`jaxvis adjectives ...` subcommands.

    jaxvis adjectives rank --relevant DIR --irrelevant DIR --json ranking.json

DIR of --relevant holds the pseudo-relevant images (the "adjective noun"
query's results, P); --irrelevant the pseudo-irrelevant ones (the "noun"
query's results, Q). Every image of both is ranked by its learnt relevance.
"""

from __future__ import annotations

import dataclasses
import json
import os

from jaxvis import cli_args as ca
from jaxvis.errors import InputError


def register(parser) -> None:
  sub = parser.add_subparsers(dest="adjectives_command")
  p = sub.add_parser("rank", help="rank the images of an 'adjective noun' query",
                     description=__doc__)
  p.add_argument("--relevant", type=ca.existing_dir, required=True, help="folder of pseudo-relevant images (P)")
  p.add_argument("--irrelevant", type=ca.existing_dir, required=True, help="folder of pseudo-irrelevant images (Q)")
  p.add_argument("--json", type=ca.output_file, required=True, help="where to write the ranking")
  p.add_argument("--query", default=None, help="the query text, stored in the JSON")
  p.add_argument("--size", type=ca.int_at_least(16), default=100, help="image side fed to the network (100)")
  p.add_argument("--objective", choices=("pairwise", "plain"), default="pairwise")
  p.add_argument("--steps", type=ca.positive_int, default=None,
                 help="steps per greedy level and of fine-tuning (default 300; 10 with --tiny)")
  p.add_argument("--clusters", type=ca.positive_int, default=2, help="K of the K-means on pairs")
  p.add_argument("--pooling", default="mean,log_contrast",
                 help="comma-separated per-cell statistics of the hidden maps: mean, std, contrast, "
                      "log_contrast (default mean,log_contrast; 'mean' = session 1's features)")
  p.add_argument("--no-standardize", action="store_true",
                 help="K-means on raw (not unit-variance) difference features")
  p.add_argument("--relevance", choices=("logistic", "pairwise", "centroid"), default="logistic",
                 help="relevance function fitted on the selected pairs")
  p.add_argument("--workdir", type=ca.output_dir, default=None, help="checkpoints (a rerun resumes)")
  p.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
  p.add_argument("--tiny", action="store_true", help="small network and few steps")
  p.set_defaults(func=run_rank)


def run_rank(args) -> int:
  from jaxvis.adjectives import data, features, search
  try:  # every option is checked before any image is read
    args.pooling = features.check_pooling(args.pooling.split(","))
  except InputError as e:
    raise InputError("--pooling", e.problem) from None
  from jaxvis.adjectives.train import SCAEConfig
  p_files = data.list_images(args.relevant)  # InputError names the folder
  q_files = data.list_images(args.irrelevant)
  scae = SCAEConfig.tiny() if args.tiny else SCAEConfig()
  steps = args.steps if args.steps is not None else (scae.greedy_steps if args.tiny else 300)
  batch = max(1, min(scae.batch_size, len(p_files), len(q_files)))
  scae = dataclasses.replace(scae, objective=args.objective, greedy_steps=steps,
                             finetune_steps=steps, dtype=args.dtype, batch_size=batch)
  config = search.SearchConfig(scae=scae, num_clusters=args.clusters,
                               kmeans_restarts=3 if args.tiny else 10, pooling=args.pooling,
                               standardize=not args.no_standardize, relevance=args.relevance)
  P = data.load_images(p_files, args.size)
  Q = data.load_images(q_files, args.size)
  result = search.rank_query(P, Q, config, workdir=args.workdir, progress=not args.tiny)
  files = p_files + q_files
  sets = ["relevant"] * len(p_files) + ["irrelevant"] * len(q_files)
  ranking = [{"rank": r + 1, "path": files[i], "set": sets[i], "score": float(result.scores[i])}
             for r, i in enumerate(result.order)]
  sel = result.clusters.selected
  out = {
      "query": args.query,
      "objective": args.objective,
      "num_pairs": int(len(result.pairs.p)),
      "cluster_sizes": result.clusters.sizes.tolist(),
      "truly_relevant": [p_files[i] for i in result.pairs.p[sel]],
      "truly_irrelevant": [q_files[i] for i in result.pairs.q[sel]],
      "ranking": ranking,
  }
  os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
  with open(args.json, "w") as f:
    json.dump(out, f, indent=2)
  print(f"ranked {len(ranking)} images ({out['num_pairs']} pairs, largest cluster "
        f"{int(sel.sum())}) -> {args.json}")
  return 0
