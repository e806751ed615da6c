"""Pair-wise stacked convolutional auto-encoders for "adjective noun" image search.

Liu, Kato & Tanaka, "Learning Subjective Adjectives from Images by Stacked
Convolutional Auto-Encoders". Modules:
  model      the stacked CAE (Table 2), tied or free decoders
  objective  pair-wise loss per level, plain and denoising baselines
  train      greedy layer-wise training + fine-tuning through `jaxvis.train`
  features   codes pooled per grid cell (mean, std, local contrast, log contrast)
  pairs      P/Q pair construction (labels, cosine similarity, one-to-one)
  relevance  K-means on pair differences, largest cluster, relevance function
  search     the whole pipeline for one query (`rank_query`), its steps, the read-outs
  compare    one query ranked by trivial / untrained / plain / pair-wise (the experiments)
  data       VSO / MVSO readers, Table 1 purities, P and Q construction
  controlled a controlled query on real photos (for the experiment and demo)
"""

from jaxvis.adjectives.model import StackedCAE
from jaxvis.adjectives.objective import pairwise_loss, plain_loss
from jaxvis.adjectives.search import SearchConfig, rank_query
from jaxvis.adjectives.train import SCAEConfig, encode, train_scae

__all__ = ["SCAEConfig", "SearchConfig", "StackedCAE", "encode", "pairwise_loss", "plain_loss",
           "rank_query", "train_scae"]
