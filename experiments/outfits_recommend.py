"""Closet recommendation with trained set graders: exact decomposed DeepSets and beam-searched
attention against brute force, on closets of test items.

    python experiments/outfits_recommend.py --graders runs/graders [--per-part 5] [--closets 5]

`--graders` is the workdir of `experiments/outfits_graders.py` (its `deepsets/` and
`attention/` runs and the dataset they were trained on). Each closet draws `--per-part`
test items per part at random; every outfit of it is scored by the full grader (brute
force) and compared with the DeepSets decomposition (must be identical) and with beam
search at several widths (top-1 score gap, mean gap over the top 10, share of the exact
top 10 found, time). Prints one JSON line per (closet, method) and a Markdown summary.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from jaxvis.outfits import beam, recommend, training
from jaxvis.outfits import closet as closet_lib


def _closet(data, part_of, per_part: int, rng) -> closet_lib.Closet:
  test_items = sorted({i for o in data.outfits["test"] for i in o.item_ids if i in part_of})
  names = []
  for part in ("outer", "upper", "lower", "full", "feet", "accessory"):
    pool = [i for i in test_items if part_of[i] == part]
    names += list(rng.choice(pool, size=min(per_part, len(pool)), replace=False))
  return closet_lib.Closet([str(n) for n in names], [part_of[n] for n in names],
                           [data.items[n].image for n in names])


def _timed(fn):
  t0 = time.perf_counter()
  out = fn()
  return out, time.perf_counter() - t0


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--graders", required=True)
  parser.add_argument("--per-part", type=int, default=5)
  parser.add_argument("--closets", type=int, default=5)
  parser.add_argument("--beams", type=int, nargs="*", default=[2, 8, 32])
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args()

  graders = {m: training.load(os.path.join(args.graders, m)) for m in ("deepsets", "attention")}
  cfg = graders["deepsets"].cfg
  prep = training.prepare(cfg, os.path.join(args.graders, "deepsets"), progress=False)
  data, part_of = prep.data, prep.part_of
  rng = np.random.default_rng(args.seed)
  rows = []
  for c in range(args.closets):
    closet = _closet(data, part_of, args.per_part, rng)
    raw = closet_lib.closet_features(closet, cfg.feature_config())
    total = recommend.count_outfits(recommend.items_by_part(closet.parts))
    g = graders["deepsets"]
    feats = g.to_grader_space(raw)
    exact, brute_s = _timed(lambda: recommend.naive_top_k(g.model, g.variables, feats,
                                                          g.mean_feature, closet.parts, k=10))
    fast, fast_s = _timed(lambda: recommend.decomposed_top_k(
        g.variables, feats, g.mean_feature, closet.parts, k=10, model=g.model))
    rows.append({"closet": c, "outfits": total, "grader": "deepsets", "method": "decomposed",
                 "same_top10": [o.items for o in fast] == [o.items for o in exact],
                 "max_score_diff": float(np.max(np.abs(np.subtract(
                     [o.score for o in fast], [o.score for o in exact])))),
                 "seconds": round(fast_s, 3), "brute_force_s": round(brute_s, 3)})
    g = graders["attention"]
    feats = g.to_grader_space(raw)
    exact, brute_s = _timed(lambda: recommend.naive_top_k(g.model, g.variables, feats,
                                                          g.mean_feature, closet.parts, k=10))
    for width in args.beams:
      approx, beam_s = _timed(lambda: beam.beam_top_k(g.model, g.variables, feats,
                                                      g.mean_feature, closet.parts, k=10,
                                                      beam=width))
      rows.append({"closet": c, "outfits": total, "grader": "attention", "method": f"beam{width}",
                   **beam.beam_gap(exact, approx), "seconds": round(beam_s, 3),
                   "brute_force_s": round(brute_s, 3)})
    for row in rows[-(1 + len(args.beams)):]:
      print(json.dumps(row), flush=True)
  print("| grader | method | closets | mean top-1 gap | mean top-10 gap | top-10 recall | "
        "s (method) | s (brute force) |")
  print("|---|---|---|---|---|---|---|---|")
  for method in ["decomposed"] + [f"beam{w}" for w in args.beams]:
    sel = [r for r in rows if r["method"] == method]
    if method == "decomposed":
      print(f"| deepsets | decomposed | {len(sel)} | exact: top 10 identical in "
            f"{sum(r['same_top10'] for r in sel)}/{len(sel)}, max score diff "
            f"{max(r['max_score_diff'] for r in sel):.1e} | | | "
            f"{np.mean([r['seconds'] for r in sel]):.2f} | "
            f"{np.mean([r['brute_force_s'] for r in sel]):.2f} |")
      continue
    print(f"| attention | {method} | {len(sel)} | {np.mean([r['top1_gap'] for r in sel]):.4f} | "
          f"{np.mean([r['mean_gap'] for r in sel]):.4f} | "
          f"{np.mean([r['recall'] for r in sel]):.2f} | "
          f"{np.mean([r['seconds'] for r in sel]):.2f} | "
          f"{np.mean([r['brute_force_s'] for r in sel]):.2f} |")


if __name__ == "__main__":
  main()
