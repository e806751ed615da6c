"""Does the auto-encoder's training shape the features the pipeline uses? (analysis, not a result)

For each controlled query (`adjectives_controlled.py`'s problems and settings) this
trains the plain and the pair-wise stacked CAE once (optionally denoising), keeps
their common initial weights as a third, untrained model, and reports for each:

  * `rank_k<K>`: the pipeline's accuracy (precision of the top m) and the
    largest cluster's pair purity, for K-means with each K given (`--clusters`);
    everything after training is the pipeline of `search.rank_query`;
  * `oracle_auc`: how much the pooled features could separate truly relevant from
    truly irrelevant images at best: 5-fold cross-validated ROC AUC of a logistic
    regression fitted WITH the truth labels, per feature group (level x statistic).
    This uses the labels, so it is a diagnosis only: nothing is chosen from it.

    python experiments/adjectives_feature_study.py --tiny --seed 0 --json study.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adjectives_controlled  # noqa: E402  (the experiment's problems and settings)

from jaxvis.adjectives import controlled, data, pairs as pairs_lib, relevance, search  # noqa: E402
from jaxvis.adjectives.train import encode, init_params, train_scae  # noqa: E402

# Feature groups whose oracle separability is reported: the default, and each part of it.
GROUPS = {
    "default": dict(levels="all", pooling=("mean", "log_contrast")),
    "level1_mean": dict(levels="bottom", pooling=("mean",)),
    "level1_log_contrast": dict(levels="bottom", pooling=("log_contrast",)),
    "level2_mean": dict(levels="top", pooling=("mean",)),
    "level2_log_contrast": dict(levels="top", pooling=("log_contrast",)),
}


def oracle_auc(x: np.ndarray, truth: np.ndarray) -> float:
  """Cross-validated AUC of a logistic regression that knows the truth (diagnosis only)."""
  from sklearn.linear_model import LogisticRegression
  from sklearn.model_selection import cross_val_score
  from sklearn.pipeline import make_pipeline
  from sklearn.preprocessing import StandardScaler
  clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
  return float(cross_val_score(clf, x, truth, cv=5, scoring="roc_auc").mean())


def pooled(config: search.SearchConfig, params, q, **feats) -> tuple[np.ndarray, np.ndarray]:
  """Pooled codes of P and Q (one encoding pass over both)."""
  x = encode(config.scae, params, np.concatenate([q.P, q.Q]), grid=config.grid, **feats)
  return x[:len(q.P)], x[len(q.P):]


def rank_with(cp: np.ndarray, cq: np.ndarray, q, pairs, config: search.SearchConfig,
              num_clusters: int, seed: int) -> dict:
  """The pipeline after encoding (as `search.rank_query`): accuracy and cluster purity."""
  diffs = relevance.difference_features(cp, cq, pairs.p, pairs.q)
  clusters = relevance.cluster_pairs(diffs, num_clusters, key=jax.random.key(seed),
                                     num_init=config.kmeans_restarts,
                                     standardize=config.standardize)
  sel = clusters.selected
  model = relevance.fit_relevance(cp[pairs.p[sel]], cq[pairs.q[sel]], method=config.relevance,
                                  l2=config.l2, steps=config.relevance_steps)
  scores = np.asarray(relevance.relevance_scores(model, np.concatenate([cp, cq])))
  truth = np.concatenate([q.relevant_p, q.relevant_q])
  good = q.relevant_p[pairs.p] & ~q.relevant_q[pairs.q]
  return {"accuracy": search.precision_at(relevance.rank(scores), truth, len(q.P)),
          "cluster_pair_purity": float(good[sel].mean()), "largest": int(sel.sum())}


def study_query(name: str, problem: dict, config: search.SearchConfig, seed: int,
                clusters: list[int], groups: dict = GROUPS) -> dict:
  adjective, table1_row = controlled.QUERIES[name]
  ra, rb = data.TABLE1[table1_row]
  q = controlled.make_query(adjective, ra, rb, problem["m"], problem["size"], seed=seed)
  pairs = pairs_lib.make_pairs(pairs_lib.object_features(q.P), pairs_lib.object_features(q.Q),
                               labels_p=q.labels_p, labels_q=q.labels_q)
  truth = np.concatenate([q.relevant_p, q.relevant_q])
  good = q.relevant_p[pairs.p] & ~q.relevant_q[pairs.q]
  row = {"query": name, "pseudo_relevant_precision": float(q.relevant_p.mean()),
         "relevant_irrelevant_pair_share": float(good.mean()), "models": {}}
  for model in ("untrained", "plain", "pairwise"):
    scae = dataclasses.replace(config.scae, objective="plain" if model == "untrained" else model,
                               seed=seed)
    if model == "untrained":
      params = init_params(scae, q.P.shape[1:])
    else:
      arrays = ({"a": q.P[pairs.p], "b": q.Q[pairs.q]} if model == "pairwise"
                else {"image": np.concatenate([q.P, q.Q])})
      params = train_scae(scae, arrays)
    cfg = dataclasses.replace(config, scae=scae)
    cp, cq = pooled(cfg, params, q, levels=config.feature_levels, pooling=config.pooling)
    out = {f"rank_k{k}": rank_with(cp, cq, q, pairs, cfg, k, seed) for k in clusters}
    out["oracle_auc"] = {group: oracle_auc(np.concatenate(pooled(cfg, params, q, **f)), truth)
                         for group, f in groups.items()}
    row["models"][model] = out
    print(name, model, json.dumps(out), flush=True)
  return row


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--tiny", action="store_true")
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--json", required=True)
  parser.add_argument("--clusters", type=int, nargs="+", default=[2, 3])
  parser.add_argument("--noise", choices=("none", "mask", "gaussian"), default="none",
                      help="denoising training for both models (SCAEConfig.noise)")
  parser.add_argument("--noise-level", type=float, default=0.25)
  parser.add_argument("--queries", nargs="*", default=list(controlled.QUERIES))
  args = parser.parse_args(argv)
  if min(args.clusters) < 2:
    parser.error(f"--clusters: expected every K >= 2, got {args.clusters}")
  problem, config = adjectives_controlled.configs(args.tiny)
  if args.noise != "none":
    config = dataclasses.replace(config, scae=dataclasses.replace(
        config.scae, noise=args.noise, noise_level=args.noise_level))
  rows = [study_query(name, problem, config, args.seed, args.clusters) for name in args.queries]
  os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
  with open(args.json, "w") as f:
    json.dump({"tiny": args.tiny, "seed": args.seed, "noise": args.noise,
               "noise_level": args.noise_level, "queries": rows}, f, indent=2)
  return 0


if __name__ == "__main__":
  sys.exit(main())
