"""Issue 21's tables and verdicts from per-seed runs of `adjectives_controlled.py --readout ...`.

Reads one JSON per seed (written with `--readout` and `--cluster-counts`; or the
JSON of `adjectives_vso.py`, which holds a run per seed), and for
every read-out prints, per query, the mean and sample standard deviation over the
seeds of the precision of the top m for: P (the search engine's answer), the
trivial baseline (colour / gradient statistics through the same pipeline), the
untrained SCAE, the plain SCAE and the pair-wise SCAE; then the verdict of the
rule below, and the cluster-count study (pairs kept by the largest cluster and
their precision against the truth, for each K).

The decision rule (fixed before the five-seed runs; docs/adjectives.md):
  on a query and a read-out, the pair-wise SCAE is called BETTER when, at the
  pipeline's K (2), its mean precision over the seeds exceeds the mean of each
  of P, the trivial baseline, the untrained SCAE and the plain SCAE by more than
  the larger of the two standard deviations (pair-wise's and that competitor's;
  P's is 0). Otherwise the verdict is NOT BETTER, and the competitors it failed
  against are named.

    python experiments/adjectives_verdicts.py experiments/results/adjectives_issue21/seed_*.json \\
        [--json summary.json] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

# Columns of the table, in order: (JSON model name or "P", heading).
COLUMNS = (("P", "P"), ("trivial", "trivial"), ("untrained_scae", "untrained SCAE"),
           ("plain_scae", "plain SCAE"), ("pairwise_scae", "pair-wise SCAE"))
COMPETITORS = ("P", "trivial", "untrained_scae", "plain_scae")
MODELS = ("trivial", "untrained_scae", "plain_scae", "pairwise_scae")


def load_runs(paths: list[str]) -> list[dict]:
  """Per-seed runs: one per file of adjectives_controlled.py, or the `runs` of adjectives_vso.py."""
  runs, sources = [], []
  for p in paths:
    with open(p) as f:
      payload = json.load(f)
    for run in payload.get("runs", [payload]):
      runs.append(run)
      sources.append(p)
  seeds = [r["seed"] for r in runs]
  if len(set(seeds)) != len(seeds):
    raise SystemExit(f"the same seed twice among {paths}: {seeds}")
  for p, r in zip(sources, runs):
    if not all(row.get("readouts") for row in r["queries"]):
      raise SystemExit(f"{p}: written without --readout (no nested read-out block)")
  return sorted(runs, key=lambda r: r["seed"])


def stats(values) -> dict:
  v = np.asarray(values, float)
  return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
          "values": v.tolist()}


def verdict(cells: dict) -> dict:
  """The pre-registered rule on one (query, read-out)'s per-model statistics."""
  pw = cells["pairwise_scae"]
  failed = []
  for c in COMPETITORS:
    margin = pw["mean"] - cells[c]["mean"]
    if not margin > max(pw["sd"], cells[c]["sd"]):
      failed.append(c)
  return {"better": not failed, "failed_against": failed}


def summarise(runs: list[dict]) -> dict:
  """{readout: {query: {model: stats, ..., "verdict": ..., "clusters": {...}}}}."""
  k_main = str(runs[0]["config"]["num_clusters"])
  readouts = list(runs[0]["queries"][0]["readouts"])
  queries = [row["query"] for row in runs[0]["queries"]]
  out = {"seeds": [r["seed"] for r in runs], "k": int(k_main), "readouts": {}}
  for readout in readouts:
    table = {}
    for qi, query in enumerate(queries):
      rows = [r["queries"][qi] for r in runs]
      assert all(row["query"] == query for row in rows), "runs hold different queries"
      cells = {"P": stats([row["pseudo_relevant_precision"] for row in rows])}
      for model in MODELS:
        cells[model] = stats([row["readouts"][readout][model][k_main]["accuracy"] for row in rows])
      cells["verdict"] = verdict(cells)
      cells["ceiling"] = rows[0]["ceiling"]
      # Cluster-count study: pairs kept by the largest cluster, their precision, per K.
      ks = sorted(rows[0]["readouts"][readout]["pairwise_scae"], key=int)
      cells["clusters"] = {
          "pairs": stats([row["pairs"]["count"] for row in rows]),
          "relevant_irrelevant_share": stats([row["pairs"]["relevant_irrelevant_share"]
                                              for row in rows]),
          **{model: {k: {stat: stats([row["readouts"][readout][model][k][stat] for row in rows])
                         for stat in ("kept_pairs", "cluster_pair_purity", "accuracy")}
                     for k in ks} for model in MODELS}}
      table[query] = cells
    out["readouts"][readout] = table
  return out


def _cell(s: dict, bold: bool = False) -> str:
  text = f"{s['mean']:.3f} ± {s['sd']:.3f}"
  return f"**{text}**" if bold else text


def print_tables(summary: dict, markdown: bool) -> None:
  n = len(summary["seeds"])
  for readout, table in summary["readouts"].items():
    print(f"\nRead-out '{readout}', K = {summary['k']}: precision of the top m, mean ± sd over "
          f"{n} seeds {summary['seeds']}")
    head = ["query"] + [h for _, h in COLUMNS] + ["verdict (pair-wise better?)"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for query, cells in table.items():
      best = max(cells[c]["mean"] for c, _ in COLUMNS)
      v = cells["verdict"]
      text = "**better**" if v["better"] else \
          "not better (vs " + ", ".join(h for c, h in COLUMNS if c in v["failed_against"]) + ")"
      print("| " + " | ".join([query] + [_cell(cells[c], cells[c]["mean"] == best)
                                         for c, _ in COLUMNS] + [text]) + " |")
    print(f"\nCluster-count study, read-out '{readout}': pairs kept by the largest cluster "
          "(mean over seeds) / pairs, and their precision (P image truly relevant, Q image "
          "truly irrelevant); 'share' = that precision over all pairs")
    first = next(iter(table.values()))["clusters"]
    ks = list(first["pairwise_scae"])
    head = ["query", "pairs", "share"] + [f"{m} K={k}" for m in MODELS for k in ks]
    if markdown:
      head = ["query", "K", "pairs", "share"] + [h for c, h in COLUMNS if c in MODELS]
      print("| " + " | ".join(head) + " |")
      print("|" + "---|" * len(head))
    for query, cells in table.items():
      cl = cells["clusters"]
      for k in ks:
        parts = [f"{cl[m][k]['kept_pairs']['mean']:.1f} · {cl[m][k]['cluster_pair_purity']['mean']:.2f}"
                 for m in MODELS]
        if markdown:
          print("| " + " | ".join([query, k, f"{cl['pairs']['mean']:.1f}",
                                   f"{cl['relevant_irrelevant_share']['mean']:.2f}"] + parts) + " |")
        else:
          print(f"{query:<18} K={k:<2} pairs {cl['pairs']['mean']:5.1f} share "
                f"{cl['relevant_irrelevant_share']['mean']:.2f}  " +
                "  ".join(f"{m}: {p}" for m, p in zip(MODELS, parts)))


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("runs", nargs="+", help="per-seed JSON files of adjectives_controlled.py")
  parser.add_argument("--json", default=None, help="write the summary (statistics, verdicts) here")
  parser.add_argument("--markdown", action="store_true", help="cluster study as a markdown table")
  args = parser.parse_args(argv)
  missing = [p for p in args.runs if not os.path.isfile(p)]
  if missing:
    parser.error(f"no such files: {missing}")
  summary = summarise(load_runs(args.runs))
  print_tables(summary, args.markdown)
  if args.json:
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
      json.dump(summary, f, indent=1)
  return 0


if __name__ == "__main__":
  sys.exit(main())
