"""Closet recommendation speed and exactness; grader training speed.

    python benchmarks/outfits.py [--quick] [--per-part N] [--repeats R]

Rows (one JSON line each):
* slot grader, the paper's (8 x 2048 -> 4096 -> BN -> ReLU -> 2): the naive
  scorer runs the whole MLP on a random sample of the closet's outfits; the
  decomposed scorer enumerates *every* outfit and keeps the exact top 10. Both
  are outfits scored per second on the same closet, timed interleaved (round
  robin) so a change of machine load does not bias their ratio.
* DeepSets grader (2048-d items, width 512, sum pooling): the same two scorers,
  plus an exactness row: on a closet small enough to brute-force (4 per part),
  the decomposed top 10 against the naive scorer's over every outfit.
* attention grader (width 256): beam search at several widths against the exact
  top 10 (every outfit scored) on that small closet: the score gaps, the share of
  the exact top 10 found, and the time of each.
* grader training steps.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import common
from jaxvis import train
from jaxvis.nn.variables import init_variables
from jaxvis.outfits import beam, models, recommend

DIM, HIDDEN = 2048, 4096


def paper_grader(seed: int = 0):
  """The paper-sized slot grader with seeded weights and non-trivial BN statistics (numpy init:
  compiling a 67M-parameter init is slow on a CPU)."""
  rng = np.random.default_rng(seed)
  f32 = lambda a: jnp.asarray(a, jnp.float32)   # noqa: E731
  params = {"fc1": {"kernel": f32(rng.standard_normal((8 * DIM, HIDDEN)) / np.sqrt(8 * DIM)),
                    "bias": f32(np.zeros(HIDDEN))},
            "bn": {"scale": f32(rng.uniform(0.5, 1.5, HIDDEN)), "bias": f32(rng.normal(0, .1, HIDDEN))},
            "fc2": {"kernel": f32(rng.standard_normal((HIDDEN, 2)) / np.sqrt(HIDDEN)),
                    "bias": f32(np.zeros(2))}}
  stats = {"bn": {"mean": f32(rng.normal(0, .1, HIDDEN)), "var": f32(rng.uniform(.5, 2, HIDDEN))}}
  return models.SlotGrader(hidden=HIDDEN), {"params": params, "batch_stats": stats}


def sample_outfits(by_part, n: int, rng) -> np.ndarray:
  """`n` random outfits (uniform over configurations' body combinations and accessory sets)."""
  sets = recommend.accessory_sets(len(by_part["accessory"]))
  rows = np.full((n, 8), -1, np.int64)
  for r in range(n):
    config = recommend.CONFIGURATIONS[int(rng.integers(len(recommend.CONFIGURATIONS)))]
    for s, part in enumerate(recommend.BODY_SLOTS):
      if part in config:
        rows[r, s] = rng.choice(by_part[part])
    acc = sets[int(rng.integers(len(sets)))]
    rows[r, 5:] = np.where(acc >= 0, by_part["accessory"][np.maximum(acc, 0)], -1)
  return rows


def _closet(per_part: int, seed: int = 0):
  labels = [p for p in ("outer", "upper", "lower", "full", "feet", "accessory")
            for _ in range(per_part)]
  rng = np.random.default_rng(seed)
  feats = jnp.asarray(np.abs(rng.normal(size=(len(labels), DIM))), jnp.float32)
  return labels, feats, feats.mean(0), recommend.items_by_part(labels)


def _naive_vs_decomposed(name, model, variables, per_part, naive_n, repeats, tile, mesh):
  """Interleaved timing of the naive scorer (sampled outfits) and the decomposed top-10
  (every outfit) on one closet."""
  labels, feats, mean, by_part = _closet(per_part)
  total = recommend.count_outfits(by_part)
  naive_batch = 256
  score = recommend.make_naive_scorer(model, naive_batch)
  slots = sample_outfits(by_part, naive_n, np.random.default_rng(1))
  run = lambda: recommend.decomposed_top_k(variables, feats, mean, labels, k=10, tile=tile,  # noqa
                                           mesh=mesh, model=model)
  (n_compile, n_s), (d_compile, d_s) = common.measure_interleaved(
      [(lambda: score(variables, feats, mean, slots), ()), (run, ())], repeats=repeats, warmup=0)
  naive_rate = naive_n / n_s
  common.emit({"bench": "outfits", "grader": name, "scorer": "naive", "dtype": "float32",
               "batch": naive_batch, "closet_per_part": per_part, "outfits": naive_n,
               "closet_outfits": total, "items_per_s": naive_rate, "compile_s": n_compile,
               "seconds": round(n_s, 4)})
  common.emit({"bench": "outfits", "grader": name, "scorer": "decomposed", "dtype": "float32",
               "devices": jax.device_count(), "batch": tile[0] * tile[1],
               "closet_per_part": per_part, "outfits": total, "closet_outfits": total,
               "items_per_s": total / d_s, "compile_s": d_compile, "seconds": round(d_s, 4),
               "speedup_vs_naive": round(total / d_s / naive_rate, 1)})


def bench_scorers(args, per_part: int, naive_n: int, repeats: int) -> None:
  tile = (args.tile_bodies, args.tile_sets)
  mesh = train.make_mesh() if jax.device_count() > 1 else None   # bodies split over devices
  model, variables = paper_grader()
  _naive_vs_decomposed("slot", model, variables, per_part, naive_n, repeats, tile, mesh)
  model, variables = set_grader("deepsets")
  _naive_vs_decomposed("deepsets", model, variables, per_part, naive_n, repeats, tile, mesh)


def set_grader(kind: str, seed: int = 0):
  """A seeded DeepSets (width 512) or attention (width 256) grader for 2048-d items."""
  model = models.make_grader(kind, 512 if kind == "deepsets" else 256, 0.0)
  dummy = (jnp.zeros((1, 8, DIM)), jnp.zeros((1, 8), jnp.int32), jnp.ones((1, 8), bool))
  return model, init_variables(model, jax.random.key(seed), *dummy)


def bench_exactness(per_part: int = 4, beams=(4, 16, 64)) -> None:
  """Decomposed DeepSets and beam-searched attention against brute force on a small closet."""
  labels, feats, mean, by_part = _closet(per_part, seed=2)
  total = recommend.count_outfits(by_part)
  model, variables = set_grader("deepsets")
  t0 = time.perf_counter()
  exact = recommend.naive_top_k(model, variables, feats, mean, labels, k=10)
  brute_s = time.perf_counter() - t0
  fast = recommend.decomposed_top_k(variables, feats, mean, labels, k=10, model=model)
  same = [o.items for o in fast] == [o.items for o in exact]
  err = float(np.max(np.abs(np.array([o.score for o in fast]) - [o.score for o in exact])))
  common.emit({"bench": "outfits", "grader": "deepsets", "scorer": "decomposed_vs_brute_force",
               "dtype": "float32", "batch": 256, "closet_per_part": per_part,
               "closet_outfits": total, "same_top10": same, "max_score_diff": err,
               "brute_force_s": round(brute_s, 3)})
  model, variables = set_grader("attention")
  exact_fn = lambda: recommend.naive_top_k(model, variables, feats, mean, labels, k=10)  # noqa
  calls = [(exact_fn, ())] + [
      (lambda b=b: beam.beam_top_k(model, variables, feats, mean, labels, k=10, beam=b), ())
      for b in beams]
  timed = common.measure_interleaved(calls, repeats=1, warmup=0)
  exact = exact_fn()
  for b, (compile_s, seconds) in zip(beams, timed[1:]):
    approx = beam.beam_top_k(model, variables, feats, mean, labels, k=10, beam=b)
    gap = beam.beam_gap(exact, approx)
    common.emit({"bench": "outfits", "grader": "attention", "scorer": f"beam{b}",
                 "dtype": "float32", "batch": 256, "closet_per_part": per_part,
                 "closet_outfits": total, "items_per_s": total / seconds,   # closet outfits/s
                 "compile_s": compile_s, "seconds": round(seconds, 4),
                 "exact_seconds": round(timed[0][1], 4),
                 **{k: round(v, 6) for k, v in gap.items()}})


def bench_large_beam(per_part: int = 20, width: int = 64) -> None:
  """Beam search where brute force is out of reach (20 per part: 227 M outfits): its time,
  beside the brute-force time the naive rate on the same grader implies."""
  labels, feats, mean, by_part = _closet(per_part, seed=3)
  total = recommend.count_outfits(by_part)
  model, variables = set_grader("attention")
  score = recommend.make_naive_scorer(model)
  slots = sample_outfits(by_part, 1024, np.random.default_rng(4))
  run = lambda: beam.beam_top_k(model, variables, feats, mean, labels, k=10, beam=width)  # noqa
  (n_compile, n_s), (b_compile, b_s) = common.measure_interleaved(
      [(lambda: score(variables, feats, mean, slots), ()), (run, ())], repeats=1, warmup=0)
  common.emit({"bench": "outfits", "grader": "attention", "scorer": f"beam{width}",
               "dtype": "float32", "batch": 256, "closet_per_part": per_part,
               "closet_outfits": total, "compile_s": b_compile, "seconds": round(b_s, 3),
               "naive_items_per_s": round(1024 / n_s, 1),
               "brute_force_estimate_s": round(total / (1024 / n_s), 0)})


def bench_training(batch: int, repeats: int) -> None:
  model, variables = paper_grader()
  mesh = train.make_mesh()

  def loss_fn(params, model_state, b, rng):
    logits, new_state = model.apply({"params": params, **model_state}, b["features"], b["parts"],
                                    b["mask"], train=True, rngs={"dropout": rng},
                                    mutable=["batch_stats"])
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, b["label"]).mean()
    return loss, (dict(new_state), {"loss": loss})

  state = train.TrainState.create(params=variables["params"], tx=optax.sgd(1e-4, momentum=0.9),
                                  model_state={"batch_stats": variables["batch_stats"]})
  state = train.replicate(state, mesh)
  step = train.make_train_step(loss_fn, mesh, donate=False)
  rng = np.random.default_rng(1)
  b = train.shard_batch({"features": rng.normal(size=(batch, 8, DIM)).astype(np.float32),
                         "parts": np.tile(np.array([0, 1, 2, 3, 4, 5, 5, 5], np.int32), (batch, 1)),
                         "mask": np.ones((batch, 8), bool),
                         "label": rng.integers(0, 2, batch).astype(np.int32)}, mesh)
  key = jax.random.key(0)
  compile_s, seconds = common.measure(lambda: step(state, b, key), repeats=repeats, warmup=0)
  common.emit({"bench": "outfits", "scorer": "train", "task": "train", "model": "slot",
               "optimizer": "sgd", "dtype": "float32", "batch": batch,
               "items_per_s": batch / seconds, "compile_s": compile_s})


def main() -> None:
  args = common.parse_args(__doc__.splitlines()[0], extra=[
      (("--per-part",), {"type": int, "default": None,
                         "help": "closet items per part (default: 8 quick, 12 CPU, 20 GPU)"}),
      (("--tile-bodies",), {"type": int, "default": 64}),
      (("--tile-sets",), {"type": int, "default": 256}),
  ])
  on_cpu = jax.devices()[0].platform == "cpu"
  per_part = args.per_part or (8 if args.quick else (12 if on_cpu else 20))
  repeats = args.repeats or (1 if args.quick else 3)
  t0 = time.perf_counter()
  bench_scorers(args, per_part, naive_n=256 if args.quick else 2048, repeats=repeats)
  bench_exactness(per_part=3 if args.quick else 4, beams=(4,) if args.quick else (4, 16, 64))
  if not args.quick:
    bench_large_beam(per_part=20, width=64)
  bench_training(batch=32 if args.quick else 256, repeats=repeats)
  if args.quick and time.perf_counter() - t0 > 60:
    print(f"# note: --quick took {time.perf_counter() - t0:.0f} s on this machine", flush=True)


if __name__ == "__main__":
  main()
