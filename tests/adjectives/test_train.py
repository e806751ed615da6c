"""Greedy + fine-tuning training through jaxvis.train, resumption, encoding, bad input."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import optax
import pytest

from jaxvis.adjectives import objective
from jaxvis.adjectives.train import SCAEConfig, encode, init_params, stage_optimizer, train_scae


def _pairs(n=24, size=28, seed=0):
  rng = np.random.default_rng(seed)
  base = rng.uniform(0.2, 0.8, (n, size, size, 3)).astype(np.float32)
  # b = a without a constant "adjective" shift on the red channel.
  a = base.copy()
  a[..., 0] = np.clip(a[..., 0] + 0.15, 0, 1)
  return {"a": a, "b": base}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("scae")
  # The CLI test's settings (tiny, batch 8, 28x28, Adam 1e-3): the compiled steps are shared
  # through the suite's XLA cache; steps are cheap, compiles are not.
  config = SCAEConfig.tiny(greedy_steps=60, finetune_steps=60)
  arrays = _pairs()
  params = train_scae(config, arrays, workdir=str(workdir))
  return config, arrays, params, workdir


def test_training_lowers_the_pairwise_loss(trained):
  config, arrays, params, _ = trained
  before = init_params(config, (28, 28, 3))
  model = config.model()

  def level1(p):   # the image-level term; level 2's target moves as level 1 learns
    terms = objective.pairwise_loss(model, p, arrays["a"], arrays["b"], jax.random.key(0))[1]
    return float(terms["L1"])

  assert level1(params) < 0.5 * level1(before)


def test_rerun_with_the_same_workdir_resumes_instead_of_retraining(trained):
  config, arrays, params, workdir = trained
  again = train_scae(config, arrays, workdir=str(workdir))
  for x, y in zip(jax.tree.leaves(params), jax.tree.leaves(again)):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_encode_levels_and_grid(trained):
  config, arrays, params, _ = trained
  top = encode(config, params, arrays["a"][:5], grid=2, levels="top")
  both = encode(config, params, arrays["a"][:5], grid=2, levels="all")
  whole = encode(config, params, arrays["a"][:5], grid=None, levels="top")
  assert top.shape == (5, 2 * 2 * 4) and both.shape == (5, 2 * 2 * 8) and whole.shape == (5, 4 * 4 * 4)
  np.testing.assert_allclose(both[:, -16:], top, atol=1e-6)
  np.testing.assert_allclose(encode(config, params, arrays["a"][:5], grid=1, levels="top"),
                             whole.reshape(5, 16, 4).mean(1), atol=1e-6)
  bottom = encode(config, params, arrays["a"][:5], grid=2, levels="bottom",
                  pooling=("mean", "log_contrast"))
  assert bottom.shape == (5, 2 * 2 * 4 * 2)
  np.testing.assert_allclose(bottom[:, :16], both[:, :16], atol=1e-6)   # level 1's means
  assert np.isfinite(bottom).all() and (bottom[:, 16:] < 0).all()      # log of contrast < 1


def test_greedy_stage_optimizer_freezes_other_levels():
  config = SCAEConfig.tiny()
  params = init_params(config, (28, 28, 3))
  tx = stage_optimizer(config, params, 2)
  grads = jax.tree.map(np.ones_like, params)
  updates, _ = tx.update(grads, tx.init(params), params)
  new = optax.apply_updates(params, updates)
  for name in ("encoder1", "decoder1"):
    for x, y in zip(jax.tree.leaves(params[name]), jax.tree.leaves(new[name])):
      np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
  assert not np.allclose(np.asarray(params["encoder2"]["kernel"]),
                         np.asarray(new["encoder2"]["kernel"]))


def test_bad_training_input_is_named():
  config = SCAEConfig.tiny()
  arrays = _pairs(n=10)
  with pytest.raises(ValueError, match="needs key 'b'"):
    train_scae(config, {"a": arrays["a"]})
  with pytest.raises(ValueError, match="fewer than batch_size=8"):
    train_scae(config, {"a": arrays["a"][:4], "b": arrays["b"][:4]})
  with pytest.raises(ValueError, match=r"expected float32 values in \[0, 1\]"):
    train_scae(config, {"a": arrays["a"] * 255, "b": arrays["b"]})
  with pytest.raises(ValueError, match="images: a 30x30 input"):
    train_scae(config, {"a": np.zeros((10, 30, 30, 3), np.float32),
                        "b": np.zeros((10, 30, 30, 3), np.float32)})
  with pytest.raises(ValueError, match="objective"):
    train_scae(dataclasses.replace(config, objective="contrastive"), arrays)
  with pytest.raises(ValueError, match="levels"):
    encode(config, init_params(config, (28, 28, 3)), arrays["a"], levels="middle")
