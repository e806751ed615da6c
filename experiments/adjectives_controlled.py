"""Controlled "adjective noun" search on real photos, in the form of the paper's Table 3.

For each synthetic query (an adjective = a visual property applied to a known
subset of crops of real skimage/sklearn photos; purities from Table 1), runs:
  - the pseudo-relevant set itself: its precision (what the search engine gives),
  - the plain stacked CAE through the same pairs -> K-means -> relevance pipeline,
  - the pair-wise stacked CAE (the paper),
  - a control: the untrained stacked CAE (the initial weights both models start
    from) through the same pipeline, which shows how much of the accuracy the
    training (either objective) adds over the pipeline's pooling, K-means and
    relevance function,
and reports each ranking's accuracy = precision of the top m of the m + m
re-ranked images of P and Q.

    python experiments/adjectives_controlled.py --tiny --json adjectives.json

The bottleneck test (session 4): `--features 20,4` sets the maps per encoding
process (the code's width), and `--feature-levels all top` reads each trained
model with every listed feature set (trained once): the first gives the usual
`<model>_accuracy` keys, each further one `<model>_<levels>_accuracy` etc.

Issue 21: every query also ranks with a trivial-feature baseline (`trivial_*`:
nine colour / gradient statistics per image, `features.image_statistics`, through
the same pairs -> K-means -> relevance pipeline). `--readout top pooled` reads
each model (trained once) with each named read-out (`search.READOUTS`; "top" =
the raw top-level code) and `--cluster-counts 2 3 4 6` repeats K-means and the
relevance function with each K; both go to the row's nested `readouts` block:
`readouts[<readout>][<model>][<K>]` = accuracy, average precision, pairs kept by
the largest cluster and their precision against the truth (trivial included).
`--quick` is the demo's quick problem (28x28 crops, m = 48, 6 + 6 maps, 40 steps
per stage), the size of issue 21's five-seed grid:

    python experiments/adjectives_controlled.py --quick --seed S --readout top pooled \
        --cluster-counts 2 3 4 6 --json experiments/results/adjectives_issue21/seed_S.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

from jaxvis.adjectives import compare, controlled, data, features, relevance, search
from jaxvis.adjectives.train import LEVELS, SCAEConfig


def configs(tiny: bool, grid: int | None = 2, pooling: tuple[str, ...] | None = None,
            standardize: bool = True, steps: int | None = None, num_clusters: int = 2,
            widths: tuple[int, ...] | None = None, feature_levels: str = "all",
            quick: bool = False) -> tuple[dict, search.SearchConfig]:
  """Problem size and pipeline settings (tiny: a few minutes on a 2-core CPU).

  Full size: Table 2's 100x100 input and 20 + 20 maps, m = 200 (Table 3's top 200);
  `steps` (per greedy level and of fine-tuning) defaults to 60 there (about 5
  epochs of the 200 pairs per stage) so that the three queries finish in ~25
  minutes on a 2-core CPU; tiny uses 120. `widths` replaces the maps per encoding
  process (default (20, 20) full, (12, 12) tiny); `feature_levels` is
  `SearchConfig.feature_levels`. `quick` (it overrides `tiny`): the demo's quick
  setting, 28x28, m = 48, 6 + 6 maps, 40 steps per stage, 3 K-means restarts and
  300 relevance steps (issue 21's five-seed grid).
  """
  restarts = relevance_steps = None
  if quick:
    problem = dict(m=48, size=28)
    scae = SCAEConfig(features=(6, 6), batch_size=16, greedy_steps=40, finetune_steps=40,
                      learning_rate=3e-3)
    restarts, relevance_steps = 3, 300
  elif tiny:
    problem = dict(m=80, size=52)
    scae = SCAEConfig(features=(12, 12), batch_size=16, greedy_steps=120, finetune_steps=120,
                      learning_rate=3e-3)
  else:
    problem = dict(m=200, size=100)
    scae = SCAEConfig(features=(20, 20), batch_size=16, greedy_steps=60, finetune_steps=60,
                      learning_rate=3e-3)
  if steps is not None:
    scae = dataclasses.replace(scae, greedy_steps=steps, finetune_steps=steps)
  if widths is not None:
    scae = dataclasses.replace(scae, features=tuple(widths))
  config = search.SearchConfig(scae=scae, num_clusters=num_clusters, grid=grid,
                               standardize=standardize, feature_levels=feature_levels)
  if restarts is not None:
    config = dataclasses.replace(config, kmeans_restarts=restarts,
                                 relevance_steps=relevance_steps)
  if pooling:
    config = dataclasses.replace(config, pooling=tuple(pooling))
  return problem, config


# The auto-encoders compared on every query (beside the trivial baseline): `compare.SCAE_MODELS`.
MODEL_KEYS = tuple(key for key, _, _ in compare.SCAE_MODELS)


def run_query(name: str, adjective: str, table1_row: str, problem: dict,
              config: search.SearchConfig, seed: int, use_labels: bool,
              untrained_control: bool = True, also_levels: tuple[str, ...] = (),
              readouts: tuple[str, ...] = (), cluster_counts: tuple[int, ...] = ()) -> dict:
  """One query's row: the controlled P and Q, ranked and scored by `compare.compare_models`.

  Every model is trained once (pairs made once, shared by all) and then read with
  `config`'s features (flat `<model>_*` keys), each of `also_levels` (flat
  `<model>_<levels>_*` keys) and each of `readouts` at each K of `cluster_counts`
  (nested `readouts[<readout>][<model>][<K>]`; `config.num_clusters` always included).
  """
  ratio_a, ratio_b = data.TABLE1[table1_row]
  q = controlled.make_query(adjective, ratio_a, ratio_b, problem["m"], problem["size"], seed=seed)
  labels = dict(labels_p=q.labels_p, labels_q=q.labels_q) if use_labels else {}
  row = {"query": name, "adjective": adjective, "table1_purities_of": table1_row,
         "ratio_a": ratio_a, "ratio_b": ratio_b, "m": len(q.P)}
  row.update(compare.compare_models(q.P, q.Q, q.relevant_p, q.relevant_q, config, seed,
                                    untrained_control=untrained_control, also_levels=also_levels,
                                    readouts=readouts, cluster_counts=cluster_counts, **labels))
  return row


def parse_grid(text: str) -> int | None:
  """'2' -> 2; 'none' -> None (the whole maps, unpooled)."""
  if text.lower() in ("none", "full"):
    return None
  try:
    grid = int(text)
  except ValueError:
    grid = 0
  if grid < 1:
    raise argparse.ArgumentTypeError(f"expected a positive cell count or 'none', got {text!r}")
  return grid


def parse_widths(text: str) -> tuple[int, ...]:
  """'20,4' -> (20, 4): maps per encoding process, level 1 first."""
  try:
    widths = tuple(int(w) for w in text.split(","))
  except ValueError:
    widths = ()
  if not widths or min(widths) < 1:
    raise argparse.ArgumentTypeError(
        f"expected comma-separated positive map counts per level, e.g. 20,4; got {text!r}")
  return widths


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--tiny", action="store_true", help="small crops, few steps (CPU minutes)")
  parser.add_argument("--json", required=True, help="where to write the results")
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--queries", nargs="*", default=list(controlled.QUERIES),
                      help=f"subset of {list(controlled.QUERIES)}")
  parser.add_argument("--no-labels", action="store_true",
                      help="pair by feature similarity only (ignore the crops' photo labels)")
  parser.add_argument("--quick", action="store_true",
                      help="the demo's quick problem: 28x28, m = 48, 6 + 6 maps, 40 steps (overrides "
                           "--tiny; issue 21's grid)")
  parser.add_argument("--grid", type=parse_grid, default=2,
                      help="codes pooled to grid x grid cells (default 2); 'none': the whole maps "
                           "(then --pooling mean)")
  parser.add_argument("--pooling", nargs="+", choices=features.POOLINGS, default=None,
                      help="statistics per cell (default: SearchConfig's, mean + log_contrast)")
  parser.add_argument("--no-standardize", action="store_true",
                      help="K-means on raw difference features (default: standardised)")
  parser.add_argument("--relevance", choices=relevance.RELEVANCE_METHODS, default=None,
                      help="relevance function (default: SearchConfig's)")
  parser.add_argument("--steps", type=int, default=None,
                      help="steps per greedy level and of fine-tuning (default 120 tiny, 60 full)")
  parser.add_argument("--clusters", type=int, default=2,
                      help="K of the K-means on the pairs' difference features (default 2)")
  parser.add_argument("--no-untrained-control", action="store_true",
                      help="skip the untrained-SCAE control ranking")
  parser.add_argument("--features", type=parse_widths, default=None, metavar="W1,W2",
                      help="maps per encoding process, e.g. 20,4 (default 20,20 full, 12,12 tiny)")
  parser.add_argument("--feature-levels", nargs="+", choices=LEVELS, default=["all"],
                      help="codes read for K-means/relevance: all (default), top, bottom; "
                           "several: each from the same trained models")
  parser.add_argument("--readout", nargs="+", choices=sorted(search.READOUTS), default=[],
                      help="also read each model (trained once) with these read-outs: top = the "
                           "raw top-level code, pooled = the default features (nested JSON block)")
  parser.add_argument("--cluster-counts", nargs="+", type=int, default=[], metavar="K",
                      help="with --readout: K-means with each K (the cluster-count study)")
  args = parser.parse_args(argv)
  unknown = set(args.queries) - set(controlled.QUERIES)
  if unknown:
    parser.error(f"--queries: unknown {sorted(unknown)}; expected {list(controlled.QUERIES)}")
  if args.clusters < 2:
    parser.error(f"--clusters: expected K >= 2, got {args.clusters}")
  if any(k < 2 for k in args.cluster_counts):
    parser.error(f"--cluster-counts: expected K >= 2, got {args.cluster_counts}")
  if args.cluster_counts and not args.readout:
    parser.error("--cluster-counts needs --readout (the study reads the nested block)")
  if len(set(args.readout)) != len(args.readout):
    parser.error(f"--readout: each at most once, got {args.readout}")
  if len(set(args.feature_levels)) != len(args.feature_levels):
    parser.error(f"--feature-levels: each at most once, got {args.feature_levels}")
  problem, config = configs(args.tiny, args.grid, args.pooling, not args.no_standardize,
                            args.steps, args.clusters, args.features, args.feature_levels[0],
                            quick=args.quick)
  try:
    features.check_grid_pooling(config.grid, config.pooling)
  except ValueError as e:
    parser.error(f"--grid/--pooling: {e}")
  if args.relevance:
    config = dataclasses.replace(config, relevance=args.relevance)
  rows = []
  start = time.time()
  for name in args.queries:
    adjective, table1_row = controlled.QUERIES[name]
    row = run_query(name, adjective, table1_row, problem, config, args.seed, not args.no_labels,
                    not args.no_untrained_control, tuple(args.feature_levels[1:]),
                    tuple(args.readout), tuple(args.cluster_counts))
    rows.append(row)
    print(json.dumps(row), flush=True)
  out = {"tiny": args.tiny, "quick": args.quick, "seed": args.seed, "problem": problem,
         "readouts": {r: search.READOUTS[r] for r in args.readout},
         "cluster_counts": sorted(set(args.cluster_counts) | {config.num_clusters}),
         "config": json.loads(json.dumps(dataclasses.asdict(config), default=str)),
         "feature_levels_read": list(args.feature_levels),
         "seconds": round(time.time() - start, 1), "queries": rows}
  os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
  with open(args.json, "w") as f:
    json.dump(out, f, indent=2)
  for i, levels in enumerate(args.feature_levels):
    suffix = "" if i == 0 else f"_{levels}"
    print(f"features of levels: {levels}, widths {config.scae.features}")
    print(f"{'query':<18} {'P precision':>11} {'trivial':>8} {'plain SCAE':>10} {'pair-wise':>10} "
          f"{'untrained':>10}")
    for r in rows:
      print(f"{r['query']:<18} {r['pseudo_relevant_precision']:>11.3f} {r['trivial_accuracy']:>8.3f} "
            f"{r[f'plain_scae{suffix}_accuracy']:>10.3f} "
            f"{r[f'pairwise_scae{suffix}_accuracy']:>10.3f} "
            f"{r.get(f'untrained_scae{suffix}_accuracy', float('nan')):>10.3f}")
  k = str(config.num_clusters)
  for r in args.readout:
    print(f"read-out: {r} (K = {k})")
    print(f"{'query':<18} {'P precision':>11} " + " ".join(f"{name:>14}" for name in
                                                          ("trivial",) + MODEL_KEYS))
    for row in rows:
      cells = [row["readouts"][r][name][k]["accuracy"] if name in row["readouts"][r] else float("nan")
               for name in ("trivial",) + MODEL_KEYS]
      print(f"{row['query']:<18} {row['pseudo_relevant_precision']:>11.3f} "
            + " ".join(f"{c:>14.3f}" for c in cells))
  return 0


if __name__ == "__main__":
  sys.exit(main())
