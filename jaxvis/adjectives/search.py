"""The whole method for one "adjective noun" query: P and Q in, a ranking out.

    result = rank_query(P, Q, SearchConfig())      # P, Q: (m, H, W, 3) float32 in [0, 1]
    result.scores      # relevance of every candidate (P then Q unless `candidates` given)
    result.order       # candidates from most to least relevant

Steps (paper Sec. 3): pair P with Q by similar objects; train the pair-wise
stacked CAE on the pairs (greedy + fine-tuning); K-means on the pairs' code
differences; the largest cluster gives truly relevant (its P images) and truly
irrelevant (its Q images) examples; a relevance function fitted on them
scores the candidates. With `SearchConfig(scae=SCAEConfig(objective="plain"))`
the same pipeline runs on a plain SCAE trained on P and Q's images (the baseline).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxvis.adjectives import features
from jaxvis.adjectives import pairs as pairs_lib
from jaxvis.adjectives import relevance
from jaxvis.adjectives.train import SCAEConfig, check_levels, encode, init_params, train_scae
from jaxvis.errors import InputError


@dataclasses.dataclass(frozen=True)
class SearchConfig:
  """Settings of the pipeline around the auto-encoder."""
  scae: SCAEConfig = SCAEConfig()
  num_clusters: int = 2                # K of the K-means on difference features
  kmeans_restarts: int = 10
  grid: int | None = 2                 # codes pooled to grid x grid cells (None: whole maps)
  feature_levels: str = "all"          # "all" levels' codes concatenated, "top" or "bottom"
  # Statistics per cell and map (features.POOLINGS): the mean keeps colour and brightness,
  # the log local contrast keeps fine detail (softness), which averaging discards.
  pooling: tuple[str, ...] = ("mean", "log_contrast")
  standardize: bool = True             # unit-variance difference features before K-means
  relevance: str = "logistic"          # "logistic", "pairwise" or "centroid"
  l2: float = 1e-2                     # logistic regression weight decay
  relevance_steps: int = 500
  min_pair_similarity: float | None = None   # drop poorer pairs
  seed: int = 0

  @classmethod
  def tiny(cls, **scae_overrides) -> "SearchConfig":
    return cls(scae=SCAEConfig.tiny(**scae_overrides), kmeans_restarts=3, relevance_steps=200)


# Read-outs: which codes K-means and the relevance function read, as `SearchConfig` fields.
READOUTS: dict[str, dict] = {
    # The project's default: every level, each map summarised per 2x2 cell by its mean and log
    # local contrast, K-means on standardised differences.
    "pooled": dict(feature_levels="all", grid=2, pooling=("mean", "log_contrast"),
                   standardize=True),
    # The paper's "top level activations": the top code's maps as they are (H x W x C numbers),
    # nothing pooled; K-means as in the default pipeline (standardised differences).
    "top": dict(feature_levels="top", grid=None, pooling=("mean",), standardize=True),
    # The top level pooled like the default (session 4's "top level only").
    "top_pooled": dict(feature_levels="top", grid=2, pooling=("mean", "log_contrast"),
                       standardize=True),
}


def with_readout(config: SearchConfig, readout: str) -> SearchConfig:
  """`config` reading the codes named by `readout` (a key of `READOUTS`)."""
  if readout not in READOUTS:
    raise InputError("readout", f"expected one of {sorted(READOUTS)}, got {readout!r}")
  return dataclasses.replace(config, **READOUTS[readout])


class SearchResult(NamedTuple):
  """What `rank_query` found.

  Attributes:
    scores: (N,) relevance of each candidate.
    order: (N,) candidate indices, most relevant first.
    pairs: the P/Q pairs (`pairs.Pairs`).
    clusters: the K-means of the pairs (`relevance.PairClusters`).
    params: the trained auto-encoder parameters.
    relevance_model: the fitted relevance function.
  """
  scores: np.ndarray
  order: np.ndarray
  pairs: pairs_lib.Pairs
  clusters: relevance.PairClusters
  params: dict
  relevance_model: relevance.RelevanceModel


def _check_set(name: str, x) -> np.ndarray:
  x = np.asarray(x)
  if x.ndim != 4 or x.shape[-1] != 3:
    raise ValueError(f"{name}: expected (N, H, W, 3) images, got shape {x.shape}")
  if x.dtype != np.float32 or x.min() < 0 or x.max() > 1:
    raise ValueError(f"{name}: expected float32 values in [0, 1] "
                     "(see adjectives.data.load_images)")
  return x


def _check_params(params, scae: SCAEConfig, image_shape) -> None:
  expected = jax.eval_shape(lambda: init_params(scae, image_shape))
  shapes = lambda tree: jax.tree.map(lambda a: tuple(np.shape(a)), tree)
  if shapes(params) != shapes(expected):
    raise InputError("params", f"expected the parameters of a stacked CAE with features="
                     f"{tuple(scae.features)}, kernel_size={scae.kernel_size} for images of shape "
                     f"{tuple(image_shape)} (config.scae's network), got other shapes")


def rank_query(P, Q, config: SearchConfig = SearchConfig(), *,
               labels_p: Sequence | None = None, labels_q: Sequence | None = None,
               pair_features: tuple[np.ndarray, np.ndarray] | None = None,
               candidates=None, workdir: str | None = None,
               progress: bool = False, params=None) -> SearchResult:
  """Finds the truly relevant images of a query and ranks candidates by relevance.

  Args:
    P: (m, H, W, 3) pseudo-relevant images ("adjective noun" results), float32 in [0, 1].
    Q: (m', H, W, 3) pseudo-irrelevant images ("noun" results).
    config: pipeline settings.
    labels_p, labels_q: optional object labels for pairing (see `pairs.make_pairs`).
    pair_features: optional (features of P, features of Q) for pairing; default
      `pairs.object_features`.
    candidates: images to rank; default P followed by Q.
    workdir: checkpoints of the auto-encoder's training stages.
    progress: progress bars.
    params: already trained auto-encoder parameters (`SearchResult.params` of a run with
      the same `config.scae`): skips training, e.g. to read one model with other features.
  """
  P, Q = _check_set("P", P), _check_set("Q", Q)
  # Settings checked before minutes of training, not after.
  features.check_grid_pooling(config.grid, config.pooling)
  check_levels(config.feature_levels)
  if P.shape[1:] != Q.shape[1:]:
    raise InputError("P, Q", f"images must have the same size, got {P.shape[1:]} and {Q.shape[1:]}")
  cand = np.concatenate([P, Q]) if candidates is None else _check_set("candidates", candidates)
  pairs = query_pairs(P, Q, config, labels_p=labels_p, labels_q=labels_q,
                      pair_features=pair_features)
  if params is None:
    params = train_scae(config.scae, training_arrays(P, Q, pairs, config.scae.objective),
                        workdir=workdir, progress=progress)
  else:
    _check_params(params, config.scae, P.shape[1:])
  code_p = encode_set(config, params, P)
  code_q = encode_set(config, params, Q)
  code_c = None if candidates is None else encode_set(config, params, cand)
  scores, clusters, model = rank_with_features(code_p, code_q, pairs, config, code_c)
  return SearchResult(scores, relevance.rank(scores), pairs, clusters, params, model)


def query_pairs(P, Q, config: SearchConfig, *, labels_p: Sequence | None = None,
                labels_q: Sequence | None = None,
                pair_features: tuple[np.ndarray, np.ndarray] | None = None) -> pairs_lib.Pairs:
  """Step 1 of `rank_query`: P/Q pairs of similar objects (raises if too few for `config`)."""
  fp, fq = (pairs_lib.object_features(P), pairs_lib.object_features(Q)) \
      if pair_features is None else pair_features
  pairs = pairs_lib.make_pairs(fp, fq, labels_p=labels_p, labels_q=labels_q,
                               min_similarity=config.min_pair_similarity)
  if len(pairs.p) < max(config.num_clusters, config.scae.batch_size):
    raise InputError("P, Q", f"only {len(pairs.p)} pairs could be made; need at least "
                     f"{max(config.num_clusters, config.scae.batch_size)} "
                     "(num_clusters and batch_size)")
  return pairs


def training_arrays(P: np.ndarray, Q: np.ndarray, pairs: pairs_lib.Pairs,
                    objective: str) -> dict[str, np.ndarray]:
  """What `train_scae` trains on: the pairs' two images (pair-wise), or every image of P and Q (plain)."""
  if objective == "pairwise":
    return {"a": P[pairs.p], "b": Q[pairs.q]}
  return {"image": np.concatenate([P, Q])}


def encode_set(config: SearchConfig, params, images: np.ndarray) -> np.ndarray:
  """(N, D) features of `images` as the pipeline reads them (`config`'s levels, grid, pooling)."""
  return encode(config.scae, params, images, grid=config.grid, levels=config.feature_levels,
                pooling=config.pooling)


def rank_with_features(features_p: np.ndarray, features_q: np.ndarray, pairs: pairs_lib.Pairs,
                       config: SearchConfig, features_c: np.ndarray | None = None
                       ) -> tuple[np.ndarray, relevance.PairClusters, relevance.RelevanceModel]:
  """The pipeline after the auto-encoder: K-means on pair differences, relevance function, scores.

  Any per-image features can stand in for the codes (e.g. `features.image_statistics`, the
  trivial baseline); `config`'s K-means and relevance settings apply.

  Args:
    features_p, features_q: (m, D) and (m', D) features of P and Q.
    pairs: the P/Q pairs.
    config: `num_clusters`, `kmeans_restarts`, `standardize`, `relevance`, `l2`,
      `relevance_steps`, `seed` are used.
    features_c: features of the candidates to score; default P's followed by Q's.

  Returns:
    (scores of the candidates, the pairs' clusters, the relevance function).
  """
  diffs = relevance.difference_features(features_p, features_q, pairs.p, pairs.q)
  clusters = relevance.cluster_pairs(diffs, config.num_clusters,
                                     key=jax.random.key(config.seed),
                                     num_init=config.kmeans_restarts,
                                     standardize=config.standardize)
  sel = clusters.selected
  model = relevance.fit_relevance(np.asarray(features_p)[pairs.p[sel]],
                                  np.asarray(features_q)[pairs.q[sel]],
                                  method=config.relevance, l2=config.l2,
                                  steps=config.relevance_steps)
  if features_c is None:
    features_c = np.concatenate([features_p, features_q])
  scores = np.asarray(relevance.relevance_scores(model, jnp.asarray(features_c)))
  return scores, clusters, model


def precision_at(order: np.ndarray, truth: np.ndarray, n: int) -> float:
  """Share of truly relevant images among the first `n` ranked candidates."""
  truth = np.asarray(truth, bool)
  if not 1 <= n <= len(order):
    raise InputError("n", f"expected 1 <= n <= {len(order)}, got {n}")
  return float(truth[np.asarray(order)[:n]].mean())


def average_precision(scores: np.ndarray, truth: np.ndarray) -> float:
  """Average precision of ranking by `scores` against boolean relevance `truth`."""
  truth = np.asarray(truth, bool)[np.argsort(-np.asarray(scores), kind="stable")]
  if not truth.any():
    return 0.0
  hits = np.cumsum(truth)
  return float((hits[truth] / (np.flatnonzero(truth) + 1)).mean())
