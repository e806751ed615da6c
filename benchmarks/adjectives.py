"""Pair-wise SCAE speed: training pairs/s (fine-tuning step, both levels) and ranking images/s.

Ranking = encode both levels + pool (SearchConfig's default statistics: mean and
log local contrast per 2x2 cell) + relevance function, on the Table 2 network
(100x100x3, 20 + 20 maps). float32 and bfloat16 compute.

    python benchmarks/adjectives.py [--quick]
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

import common
from jaxvis import train
from jaxvis.adjectives import relevance, search
from jaxvis.adjectives.train import SCAEConfig, make_encoder_fn, stage_optimizer, init_params, \
    make_loss_fn


def bench_training(config: SCAEConfig, batch: int, repeats: int) -> None:
  mesh = train.make_mesh()
  params = init_params(config, (100, 100, 3))
  state = train.replicate(train.TrainState.create(params, stage_optimizer(config, params, None)),
                          mesh)
  step = train.make_train_step(make_loss_fn(config, None), mesh, donate=False)
  rng = np.random.default_rng(0)
  pairs = {k: rng.uniform(size=(batch, 100, 100, 3)).astype(np.float32) for k in ("a", "b")}
  pairs = train.shard_batch(pairs, mesh)
  key = jax.random.key(0)
  compile_s, seconds = common.measure(step, state, pairs, key, repeats=repeats)
  common.emit({"bench": "adjectives_train", "impl": "jaxvis", "objective": config.objective,
               "batch": batch, "dtype": config.dtype, "items_per_s": batch / seconds,
               "unit": "pairs", "compile_s": compile_s})


def bench_ranking(config: SCAEConfig, batch: int, repeats: int) -> None:
  params = init_params(config, (100, 100, 3))
  pipeline = search.SearchConfig()       # the default features: grid, levels, pooling
  encode = make_encoder_fn(config.model(), pipeline.grid, pipeline.feature_levels,
                           pipeline.pooling)
  dim = pipeline.grid ** 2 * sum(config.features) * len(pipeline.pooling)
  model = relevance.RelevanceModel(jnp.zeros(dim), jnp.ones(dim), jnp.ones(dim) / dim, jnp.zeros(()))

  @jax.jit
  def score(params, images):
    return relevance.relevance_scores(model, encode(params, images))

  images = jnp.asarray(np.random.default_rng(0).uniform(size=(batch, 100, 100, 3)), jnp.float32)
  compile_s, seconds = common.measure(score, params, images, repeats=repeats)
  common.emit({"bench": "adjectives_rank", "impl": "jaxvis", "batch": batch, "dtype": config.dtype,
               "items_per_s": batch / seconds, "unit": "images", "compile_s": compile_s})


def main() -> None:
  args = common.parse_args(__doc__.split("\n")[0])
  on_cpu = jax.devices()[0].platform == "cpu"
  repeats = args.repeats or (2 if args.quick else 5)
  train_batches = [8] if args.quick else ([16, 64] if on_cpu else [64, 256])
  rank_batches = [32] if args.quick else ([64, 256] if on_cpu else [256, 1024])
  for dtype in ("float32", "bfloat16"):
    config = dataclasses.replace(SCAEConfig(), dtype=dtype)
    for b in train_batches:
      bench_training(config, b, repeats)
    for b in rank_batches:
      bench_ranking(config, b, repeats)


if __name__ == "__main__":
  main()
