import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxvis.outfits import models, recommend


TILE = (8, 16)   # one tile shape (and one grader shape) for every test: one compile


def _grader(d=6, h=12, seed=0):
  model = models.SlotGrader(hidden=h)
  rng = np.random.default_rng(seed)
  v = jax.jit(model.init)(jax.random.key(seed), jnp.zeros((1, 8, d)),
                          jnp.zeros((1, 8), jnp.int32), jnp.ones((1, 8), bool))
  v = {"params": jax.tree.map(lambda x: x + 0.3 * rng.normal(size=x.shape).astype(np.float32),
                              v["params"]),
       "batch_stats": {"bn": {"mean": jnp.asarray(rng.normal(size=h), jnp.float32),
                              "var": jnp.asarray(rng.uniform(0.5, 2, h), jnp.float32)}}}
  return model, v


def test_enumeration_counts_and_accessory_sets():
  assert len(recommend.accessory_sets(4)) == 1 + 4 + 6 + 4
  assert len(recommend.accessory_sets(20)) == 1351
  labels = ["outer"] * 2 + ["upper"] * 3 + ["lower"] * 2 + ["full"] * 2 + ["feet"] * 2 + \
           ["accessory"] * 4
  by_part = recommend.items_by_part(labels)
  expected = (2 * 3 * 2 * 2 + 3 * 2 * 2 + 2 * 2) * 15
  assert recommend.count_outfits(by_part) == expected
  rows = np.concatenate([recommend.enumerate_outfits(by_part, c) for c in range(3)])
  assert len(rows) == expected == len({tuple(r) for r in rows})
  with pytest.raises(ValueError, match=r"unknown part label 'shoes'"):
    recommend.items_by_part(["upper", "shoes"])


_NAIVE = {}


def _naive(model, v, feats, mean, labels, k):
  """(naive top-k, every outfit's score), computed once for both formulations (the slow part)."""
  if k not in _NAIVE:
    by_part = recommend.items_by_part(labels)
    score = recommend.make_naive_scorer(model)
    every = np.concatenate([score(v, feats, mean, recommend.enumerate_outfits(by_part, c))
                            for c in range(3)])
    _NAIVE[k] = recommend.naive_top_k(model, v, feats, mean, labels, k=k), every
  return _NAIVE[k]


@pytest.mark.parametrize("per_body", [True, False])   # the CPU and the accelerator formulation
def test_decomposed_equals_naive_exactly(per_body):
  model, v = _grader()
  labels = ["outer"] * 2 + ["upper"] * 3 + ["lower"] * 2 + ["full"] * 2 + ["feet"] * 2 + \
           ["accessory"] * 4
  rng = np.random.default_rng(1)
  feats = rng.normal(size=(len(labels), 6)).astype(np.float32)
  mean = rng.normal(size=6).astype(np.float32)
  k = 25
  fast = recommend.decomposed_top_k(v, feats, mean, labels, k=k, tile=TILE,   # ragged tiles
                                   per_body=per_body)
  slow, every = _naive(model, v, feats, mean, labels, k)
  assert [o.items for o in fast] == [o.items for o in slow]
  np.testing.assert_allclose([o.score for o in fast], [o.score for o in slow], rtol=1e-5)
  # and the top-k is the true top-k of all outfits' scores
  np.testing.assert_allclose(sorted(every)[::-1][:k], [o.score for o in fast], rtol=1e-5)


def test_unfillable_configuration_is_skipped_with_a_message():
  model, v = _grader()
  labels = ["upper", "upper", "lower", "feet", "accessory"]
  feats = np.random.default_rng(2).normal(size=(5, 6)).astype(np.float32)
  messages = []
  out = recommend.decomposed_top_k(v, feats, np.zeros(6, np.float32), labels, k=25,
                                   messages=messages, tile=TILE)
  assert len(out) == 2 * 2                        # upper+lower+feet with 0/1 accessory
  assert {o.configuration for o in out} == {1}
  assert len(messages) == 2 and "no outer item" in messages[0] and "no full item" in messages[1]
  with pytest.raises(ValueError, match="feats: expected"):
    recommend.decomposed_top_k(v, feats[:, :4], np.zeros(4, np.float32), labels)


def test_twenty_items_per_part_closet_runs_in_tiles():
  model, v = _grader()
  labels = [p for p in ("outer", "upper", "lower", "full", "feet") for _ in range(6)] + \
           ["accessory"] * 7
  feats = np.random.default_rng(3).normal(size=(len(labels), 6)).astype(np.float32)
  out = recommend.decomposed_top_k(v, feats, np.zeros(6, np.float32), labels, k=25, tile=TILE)
  assert len(out) == 25 and all(math.isfinite(o.score) for o in out)
  assert [o.score for o in out] == sorted([o.score for o in out], reverse=True)


_SHARDED = r"""
import json, numpy as np, jax
from jaxvis import train
from jaxvis.outfits import recommend
import test_recommend as t
model, v = t._grader()
labels = ["outer"] * 2 + ["upper"] * 3 + ["lower"] * 2 + ["full"] * 3 + ["feet"] * 2 + ["accessory"] * 3
rng = np.random.default_rng(4)
feats = rng.normal(size=(len(labels), 6)).astype(np.float32)
mean = rng.normal(size=6).astype(np.float32)
one = recommend.decomposed_top_k(v, feats, mean, labels, k=30, tile=t.TILE)
four = recommend.decomposed_top_k(v, feats, mean, labels, k=30, tile=t.TILE, mesh=train.make_mesh())
print(json.dumps({"devices": jax.device_count(), "one": [[o.items, o.score] for o in one],
                  "four": [[o.items, o.score] for o in four]}))
"""


def test_sharded_enumeration_over_devices_equals_one_device():
  import json
  import os
  import subprocess
  import sys
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
             JAX_PLATFORMS="cpu", PYTHONPATH=os.path.dirname(__file__))
  out = subprocess.run([sys.executable, "-c", _SHARDED], env=env, capture_output=True, text=True,
                       timeout=300)
  assert out.returncode == 0, out.stderr[-2000:]
  res = json.loads(out.stdout.strip().splitlines()[-1])
  assert res["devices"] == 4
  assert [r[0] for r in res["four"]] == [r[0] for r in res["one"]]
  np.testing.assert_allclose([r[1] for r in res["four"]], [r[1] for r in res["one"]], rtol=1e-6)


def _set_grader(kind, d=6, h=12, seed=0):
  model = models.make_grader(kind, h, 0.0)
  v = jax.jit(model.init)(jax.random.key(seed), jnp.zeros((1, 8, d)),
                          jnp.zeros((1, 8), jnp.int32), jnp.ones((1, 8), bool))
  rng = np.random.default_rng(seed)
  return model, jax.tree.map(lambda x: x + 0.3 * rng.normal(size=x.shape).astype(np.float32), v)


_LABELS = ["outer"] * 2 + ["upper"] * 3 + ["lower"] * 2 + ["full"] * 2 + ["feet"] * 2 + \
          ["accessory"] * 4


def test_deepsets_decomposes_exactly():
  model, v = _set_grader("deepsets")
  feats = np.random.default_rng(5).normal(size=(len(_LABELS), 6)).astype(np.float32)
  mean = np.zeros(6, np.float32)
  fast = recommend.decomposed_top_k(v, feats, mean, _LABELS, k=25, tile=TILE, model=model)
  slow = recommend.naive_top_k(model, v, feats, mean, _LABELS, k=25)
  assert [o.items for o in fast] == [o.items for o in slow]
  np.testing.assert_allclose([o.score for o in fast], [o.score for o in slow], rtol=1e-5)


def test_include_and_exclude_constraints():
  model, v = _grader()
  feats = np.random.default_rng(6).normal(size=(len(_LABELS), 6)).astype(np.float32)
  mean = np.zeros(6, np.float32)
  upper, acc, excluded = 3, 12, 13        # an upper, an accessory; another accessory out
  messages = []
  out = recommend.decomposed_top_k(v, feats, mean, _LABELS, k=500, tile=TILE, messages=messages,
                                   include=[upper, acc], exclude=[excluded])
  # full+feet has no place for the included upper; 2*2*2 + 2*2 bodies x 4 sets holding acc
  assert any("no place for the included upper" in m for m in messages)
  assert len(out) == (2 * 2 * 2 + 2 * 2) * 4
  assert all(upper in o.items and acc in o.items and excluded not in o.items for o in out)
  slow = recommend.naive_top_k(model, v, feats, mean, _LABELS, k=500, include=[upper, acc],
                               exclude=[excluded])
  assert [o.items for o in out] == [o.items for o in slow]
  with pytest.raises(ValueError, match="two included upper items"):
    recommend.closet_parts(_LABELS, include=[2, 3])
  with pytest.raises(ValueError, match="both included and excluded"):
    recommend.closet_parts(_LABELS, include=[2], exclude=[2])


def test_beam_search_finds_the_exact_top_k_with_a_wide_beam_and_reports_the_gap():
  from jaxvis.outfits import beam
  model, v = _set_grader("attention", h=8)
  feats = np.random.default_rng(7).normal(size=(len(_LABELS), 6)).astype(np.float32)
  mean = np.zeros(6, np.float32)
  exact = recommend.naive_top_k(model, v, feats, mean, _LABELS, k=10)
  wide = beam.beam_top_k(model, v, feats, mean, _LABELS, k=10, beam=10_000)
  np.testing.assert_allclose([o.score for o in wide], [o.score for o in exact], rtol=1e-5)
  assert beam.beam_gap(exact, wide) == pytest.approx({"top1_gap": 0, "mean_gap": 0, "recall": 1},
                                                     abs=1e-6)
  narrow = beam.beam_top_k(model, v, feats, mean, _LABELS, k=10, beam=2)
  gap = beam.beam_gap(exact, narrow)
  assert gap["top1_gap"] >= -1e-6 and gap["mean_gap"] >= -1e-6 and 0 <= gap["recall"] <= 1
  with_acc = beam.beam_top_k(model, v, feats, mean, _LABELS, k=10, beam=4, include=[12])
  assert all(12 in o.items for o in with_acc)
