"""One query's P and Q ranked by every model the experiments compare, scored against the truth.

The models, all through the identical pipeline after the features (pairs made
once -> K-means on pair differences -> largest cluster -> relevance function):

  trivial         nine colour / gradient statistics per image (`features.image_statistics`)
  untrained_scae  the stacked CAE's initial weights (where both trained models start)
  plain_scae      the stacked CAE trained to reconstruct single images (the baseline)
  pairwise_scae   the pair-wise stacked CAE (the paper)

Each auto-encoder is trained once and read with the config's features (flat
`<model>_<stat>` keys), further feature levels (`<model>_<levels>_<stat>`), and
named read-outs (`search.READOUTS`) at several K (nested
`readouts[<readout>][<model>]["<K>"]`). Used by `experiments/adjectives_controlled.py`
(controlled queries on real photos) and `experiments/adjectives_vso.py` (VSO / MVSO).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Sequence

import numpy as np

from jaxvis.adjectives import features, relevance, search
from jaxvis.adjectives.train import train_scae

# (key, objective, trained?) of the auto-encoders compared.
SCAE_MODELS = (("plain_scae", "plain", True), ("pairwise_scae", "pairwise", True),
               ("untrained_scae", "plain", False))
STATS = ("accuracy", "average_precision", "cluster_pair_purity", "kept_pairs")


def score_ranking(features_p: np.ndarray, features_q: np.ndarray, pairs, config: search.SearchConfig,
                  relevant_p: np.ndarray, relevant_q: np.ndarray) -> dict:
  """The pipeline after the features (`search.rank_with_features`), scored against the truth.

  Returns:
    accuracy (precision of the top m of P + Q, m = len(P)), average precision, the
    pairs kept by the largest cluster, their precision (P image truly relevant and
    Q image truly irrelevant: `cluster_pair_purity`), the kept P images' precision,
    and the cluster sizes.
  """
  truth = np.concatenate([relevant_p, relevant_q])
  scores, clusters, _ = search.rank_with_features(features_p, features_q, pairs, config)
  sel = clusters.selected
  kept_p, kept_q = relevant_p[pairs.p[sel]], relevant_q[pairs.q[sel]]
  return {"accuracy": search.precision_at(relevance.rank(scores), truth, len(relevant_p)),
          "average_precision": search.average_precision(scores, truth),
          "kept_pairs": int(sel.sum()),
          "cluster_pair_purity": float((kept_p & ~kept_q).mean()),
          "kept_p_precision": float(kept_p.mean()),
          "cluster_sizes": clusters.sizes.tolist()}


def compare_models(P: np.ndarray, Q: np.ndarray, relevant_p: np.ndarray, relevant_q: np.ndarray,
                   config: search.SearchConfig, seed: int, *,
                   labels_p: Sequence | None = None, labels_q: Sequence | None = None,
                   untrained_control: bool = True, also_levels: Sequence[str] = (),
                   readouts: Sequence[str] = (), cluster_counts: Sequence[int] = ()) -> dict:
  """Ranks P + Q with every model and scores each ranking.

  Args:
    P, Q: (m, S, S, 3) float32 images in [0, 1]; pseudo-relevant and pseudo-irrelevant.
    relevant_p, relevant_q: (m,) bool truth.
    config: the pipeline (its `scae` is trained with each objective; `seed` replaced).
    seed: seeds the auto-encoders' initialisation and batches, and K-means.
    labels_p, labels_q: object labels for pairing (None: pairs by layout similarity).
    untrained_control: include the untrained auto-encoder.
    also_levels: further `feature_levels` read from the same trained models (flat keys).
    readouts: names in `search.READOUTS` (nested block).
    cluster_counts: K values for the read-outs (`config.num_clusters` always included).

  Returns:
    {"pseudo_relevant_precision", "ceiling", "pairs": {count, relevant_irrelevant_share},
     flat `<model>_<stat>` keys, `<model>_seconds`, and with read-outs "readouts"}.
  """
  relevant_p, relevant_q = np.asarray(relevant_p, bool), np.asarray(relevant_q, bool)
  m = len(P)
  base = dataclasses.replace(config, seed=seed)
  labels = dict(labels_p=labels_p, labels_q=labels_q) if labels_p is not None else {}
  pairs = search.query_pairs(P, Q, base, **labels)
  row = {"pseudo_relevant_precision": float(relevant_p.mean()),
         "ceiling": float(min(relevant_p.sum() + relevant_q.sum(), m) / m),
         "pairs": {"count": int(len(pairs.p)),
                   # The (truly relevant, truly irrelevant) pairs the largest cluster should keep.
                   "relevant_irrelevant_share": float(
                       (relevant_p[pairs.p] & ~relevant_q[pairs.q]).mean())}}
  ks = sorted(set(cluster_counts) | {config.num_clusters})
  nested = {r: {} for r in readouts}

  def evaluate(fp, fq, cfg, counts):
    return {k: score_ranking(fp, fq, pairs, dataclasses.replace(cfg, num_clusters=k),
                             relevant_p, relevant_q) for k in counts}

  # The trivial baseline: colour / gradient statistics instead of codes (standardised: mixed units).
  t = time.time()
  stats_p, stats_q = (np.asarray(features.image_statistics(x)) for x in (P, Q))
  trivial = evaluate(stats_p, stats_q, dataclasses.replace(base, standardize=True), ks)
  row.update(_flat("trivial", trivial[config.num_clusters]))
  row["trivial_seconds"] = round(time.time() - t, 1)
  for r in readouts:
    nested[r]["trivial"] = trivial

  for key, objective, trained in SCAE_MODELS:
    if not (trained or untrained_control):
      continue
    # Zero steps: train_scae returns the initial weights (the same seed both models start from).
    steps = {} if trained else dict(greedy_steps=0, finetune_steps=0)
    cfg = dataclasses.replace(base, scae=dataclasses.replace(config.scae, objective=objective,
                                                             seed=seed, **steps))
    t = time.time()
    params = train_scae(cfg.scae, search.training_arrays(P, Q, pairs, objective))
    row[f"{key}_train_seconds"] = round(time.time() - t, 1)
    views = [("", cfg)] + [(levels, dataclasses.replace(cfg, feature_levels=levels))
                           for levels in also_levels]
    for suffix, view in views:
      fp, fq = search.encode_set(view, params, P), search.encode_set(view, params, Q)
      result = evaluate(fp, fq, view, [config.num_clusters])[config.num_clusters]
      row.update(_flat(f"{key}_{suffix}" if suffix else key, result))
    for r in readouts:
      view = search.with_readout(cfg, r)
      fp, fq = search.encode_set(view, params, P), search.encode_set(view, params, Q)
      nested[r][key] = evaluate(fp, fq, view, ks)
    row[f"{key}_seconds"] = round(time.time() - t, 1)
  if readouts:
    # JSON object keys are strings: K as "2", "3", ...
    row["readouts"] = {r: {model: {str(k): v for k, v in per_k.items()}
                           for model, per_k in models.items()} for r, models in nested.items()}
  return row


def _flat(key: str, result: dict) -> dict:
  return {f"{key}_{stat}": result[stat] for stat in STATS}
