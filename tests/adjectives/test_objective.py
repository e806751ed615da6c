"""Pair-wise and plain SCAE losses on values."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxvis.adjectives import objective
from jaxvis.adjectives.model import StackedCAE


@pytest.fixture(scope="module")
def setup():
  model = StackedCAE(features=(3, 4))
  a = jax.random.uniform(jax.random.key(0), (2, 28, 28, 3))
  b = jax.random.uniform(jax.random.key(1), (2, 28, 28, 3))
  params = model.init(jax.random.key(2), a)["params"]
  return model, params, a, b


def test_pairwise_loss_matches_the_paper_formula(setup):
  model, params, a, b = setup
  ia, oa = model.apply({"params": params}, a)
  ib, ob = model.apply({"params": params}, b)
  expected = [np.mean(((np.asarray(ia[k]) - np.asarray(ib[k]))
                       - (np.asarray(oa[k]) - np.asarray(ob[k]))) ** 2) for k in range(2)]
  total, terms = objective.pairwise_loss(model, params, a, b, jax.random.key(0),
                                         level_weights=(0.3, 2.0))
  np.testing.assert_allclose(float(terms["L1"]), expected[0], rtol=1e-5)
  np.testing.assert_allclose(float(terms["L2"]), expected[1], rtol=1e-5)
  np.testing.assert_allclose(float(total), 0.3 * expected[0] + 2.0 * expected[1], rtol=1e-5)


def test_identical_pairs_cost_nothing_but_plain_loss_does_not(setup):
  model, params, a, _ = setup
  total, _ = objective.pairwise_loss(model, params, a, a, jax.random.key(0))
  assert float(total) == 0.0
  plain, terms = objective.plain_loss(model, params, a, jax.random.key(0))
  i, o = model.apply({"params": params}, a)
  np.testing.assert_allclose(float(terms["L1"]), float(jnp.mean((i[0] - o[0]) ** 2)), rtol=1e-5)
  assert float(plain) > 0.01


def test_greedy_stage_moves_only_its_level(setup):
  model, params, a, b = setup
  grads = jax.grad(lambda p: objective.pairwise_loss(model, p, a, b, jax.random.key(0),
                                                     stage=2)[0])(params)
  norms = {k: float(sum(jnp.sum(g ** 2) for g in jax.tree.leaves(v))) for k, v in grads.items()}
  assert norms["encoder1"] == 0.0 and norms["decoder1"] == 0.0
  assert norms["encoder2"] > 0 and norms["decoder2"] > 0
  loss, terms = objective.pairwise_loss(model, params, a, b, jax.random.key(0), stage=2)
  assert list(terms) == ["L2"]
  h_a = model.apply({"params": params}, a, 1, method=StackedCAE.encode_level)
  h_b = model.apply({"params": params}, b, 1, method=StackedCAE.encode_level)
  r_a = model.apply({"params": params}, h_a, 2, method=StackedCAE.reconstruct_level)
  r_b = model.apply({"params": params}, h_b, 2, method=StackedCAE.reconstruct_level)
  np.testing.assert_allclose(float(loss), float(jnp.mean(((h_a - h_b) - (r_a - r_b)) ** 2)),
                             rtol=1e-5)


def test_denoising_corrupts_input_but_not_target(setup):
  model, params, a, _ = setup
  x = jnp.ones((4, 50, 50, 3))
  masked = objective.corrupt(x, jax.random.key(0), "mask", 0.3)
  assert abs(float(jnp.mean(masked == 0)) - 0.3) < 0.02
  noisy = objective.corrupt(x, jax.random.key(0), "gaussian", 0.1)
  assert abs(float(jnp.std(noisy - x)) - 0.1) < 0.01
  targets, outputs = objective.level_terms(model, params, a, jax.random.key(1), stage=1,
                                           noise="mask", noise_level=0.5)
  np.testing.assert_array_equal(np.asarray(targets[0]), np.asarray(a))
  clean = model.apply({"params": params}, a, 1, method=StackedCAE.reconstruct_level)
  assert float(jnp.max(jnp.abs(outputs[0] - clean))) > 1e-3
  with pytest.raises(ValueError, match="noise"):
    objective.corrupt(x, jax.random.key(0), "salt", 0.1)


def test_level_weights_are_checked(setup):
  model, params, a, b = setup
  with pytest.raises(ValueError, match="level_weights: expected 2"):
    objective.pairwise_loss(model, params, a, b, jax.random.key(0), level_weights=(1.0,))
