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
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

import numpy as np

from jaxvis.adjectives import controlled, data, features, relevance, search
from jaxvis.adjectives.train import LEVELS, SCAEConfig


def configs(tiny: bool, grid: int = 2, pooling: tuple[str, ...] | None = None,
            standardize: bool = True, steps: int | None = None, num_clusters: int = 2,
            widths: tuple[int, ...] | None = None, feature_levels: str = "all"
            ) -> tuple[dict, search.SearchConfig]:
  """Problem size and pipeline settings (tiny: a few minutes on a 2-core CPU).

  Full size: Table 2's 100x100 input and 20 + 20 maps, m = 200 (Table 3's top 200);
  `steps` (per greedy level and of fine-tuning) defaults to 60 there (about 5
  epochs of the 200 pairs per stage) so that the three queries finish in ~25
  minutes on a 2-core CPU; tiny uses 120. `widths` replaces the maps per encoding
  process (default (20, 20) full, (12, 12) tiny); `feature_levels` is
  `SearchConfig.feature_levels`.
  """
  if tiny:
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
  if pooling:
    config = dataclasses.replace(config, pooling=tuple(pooling))
  return problem, config


# (JSON key prefix, objective, trained?) of the rankings compared on every query.
MODELS = (("plain_scae", "plain", True), ("pairwise_scae", "pairwise", True),
          ("untrained_scae", "plain", False))


def run_query(name: str, adjective: str, table1_row: str, problem: dict,
              config: search.SearchConfig, seed: int, use_labels: bool,
              untrained_control: bool = True, also_levels: tuple[str, ...] = ()) -> dict:
  """One query's row; `also_levels`: further feature sets read from the same trained models."""
  ratio_a, ratio_b = data.TABLE1[table1_row]
  q = controlled.make_query(adjective, ratio_a, ratio_b, problem["m"], problem["size"], seed=seed)
  truth = np.concatenate([q.relevant_p, q.relevant_q])
  m = len(q.P)
  labels = dict(labels_p=q.labels_p, labels_q=q.labels_q) if use_labels else {}
  row = {"query": name, "adjective": adjective, "table1_purities_of": table1_row,
         "ratio_a": ratio_a, "ratio_b": ratio_b, "m": m,
         "pseudo_relevant_precision": float(q.relevant_p.mean())}
  for key, objective, trained in MODELS:
    if not (trained or untrained_control):
      continue
    # Zero steps: train_scae returns the initial weights (the same seed both models start from).
    steps = {} if trained else dict(greedy_steps=0, finetune_steps=0)
    cfg = dataclasses.replace(config, seed=seed,
                              scae=dataclasses.replace(config.scae, objective=objective,
                                                       seed=seed, **steps))
    t = time.time()
    res = search.rank_query(q.P, q.Q, cfg, **labels)
    row.update(_scores(key, res, q, truth, m))
    row[f"{key}_seconds"] = round(time.time() - t, 1)
    for levels in also_levels:
      other = dataclasses.replace(cfg, feature_levels=levels)
      row.update(_scores(f"{key}_{levels}", search.rank_query(q.P, q.Q, other, params=res.params,
                                                               **labels), q, truth, m))
  return row


def _scores(key: str, res: search.SearchResult, q, truth: np.ndarray, m: int) -> dict:
  sel = res.clusters.selected
  return {f"{key}_accuracy": search.precision_at(res.order, truth, m),
          f"{key}_average_precision": search.average_precision(res.scores, truth),
          # How pure the largest cluster was: its P images relevant and Q images irrelevant.
          f"{key}_cluster_pair_purity": float(
              (q.relevant_p[res.pairs.p[sel]] & ~q.relevant_q[res.pairs.q[sel]]).mean())}


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
  parser.add_argument("--grid", type=int, default=2,
                      help="codes pooled to grid x grid cells (default 2)")
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
  args = parser.parse_args(argv)
  unknown = set(args.queries) - set(controlled.QUERIES)
  if unknown:
    parser.error(f"--queries: unknown {sorted(unknown)}; expected {list(controlled.QUERIES)}")
  if args.clusters < 2:
    parser.error(f"--clusters: expected K >= 2, got {args.clusters}")
  if len(set(args.feature_levels)) != len(args.feature_levels):
    parser.error(f"--feature-levels: each at most once, got {args.feature_levels}")
  problem, config = configs(args.tiny, args.grid, args.pooling, not args.no_standardize,
                            args.steps, args.clusters, args.features, args.feature_levels[0])
  if args.relevance:
    config = dataclasses.replace(config, relevance=args.relevance)
  rows = []
  start = time.time()
  for name in args.queries:
    adjective, table1_row = controlled.QUERIES[name]
    row = run_query(name, adjective, table1_row, problem, config, args.seed, not args.no_labels,
                    not args.no_untrained_control, tuple(args.feature_levels[1:]))
    rows.append(row)
    print(json.dumps(row), flush=True)
  out = {"tiny": args.tiny, "seed": args.seed, "problem": problem,
         "config": json.loads(json.dumps(dataclasses.asdict(config), default=str)),
         "feature_levels_read": list(args.feature_levels),
         "seconds": round(time.time() - start, 1), "queries": rows}
  os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
  with open(args.json, "w") as f:
    json.dump(out, f, indent=2)
  for i, levels in enumerate(args.feature_levels):
    suffix = "" if i == 0 else f"_{levels}"
    print(f"features of levels: {levels}, widths {config.scae.features}")
    print(f"{'query':<14} {'P precision':>11} {'plain SCAE':>10} {'pair-wise':>10} {'untrained':>10}")
    for r in rows:
      print(f"{r['query']:<14} {r['pseudo_relevant_precision']:>11.3f} "
            f"{r[f'plain_scae{suffix}_accuracy']:>10.3f} "
            f"{r[f'pairwise_scae{suffix}_accuracy']:>10.3f} "
            f"{r.get(f'untrained_scae{suffix}_accuracy', float('nan')):>10.3f}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
