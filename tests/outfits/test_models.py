import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxvis.outfits import models


def _inputs(b=3, m=8, d=4, seed=0):
  rng = np.random.default_rng(seed)
  feats = jnp.asarray(rng.normal(size=(b, m, d)), jnp.float32)
  parts = jnp.asarray(np.tile(np.array([0, 1, 2, 3, 4, 5, 5, 5])[:m], (b, 1)), jnp.int32)
  mask = jnp.asarray(rng.random((b, m)) > 0.3)
  return feats, parts, mask


def test_slot_grader_is_the_papers_mlp():
  model = models.SlotGrader(hidden=16, dropout=0.5)
  feats, parts, mask = _inputs()
  v = jax.jit(model.init)(jax.random.key(0), feats, parts, mask)
  assert v["params"]["fc1"]["kernel"].shape == (8 * 4, 16)
  assert v["params"]["fc2"]["kernel"].shape == (16, 2)
  logits = jax.jit(model.apply)(v, feats, parts, mask)
  # by hand: concat -> dense -> BN (running stats 0/1) -> ReLU -> dense
  p = v["params"]
  h = feats.reshape(3, -1) @ p["fc1"]["kernel"] + p["fc1"]["bias"]
  h = h / jnp.sqrt(1 + 1e-5) * p["bn"]["scale"] + p["bn"]["bias"]
  ref = jnp.maximum(h, 0) @ p["fc2"]["kernel"] + p["fc2"]["bias"]
  np.testing.assert_allclose(logits, ref, rtol=1e-5, atol=1e-5)
  # training mode: batch statistics update, dropout is random
  out, state = jax.jit(lambda v, f, p, m: model.apply(
      v, f, p, m, train=True, mutable=["batch_stats"], rngs={"dropout": jax.random.key(1)}))(
          v, feats, parts, mask)
  assert not np.allclose(state["batch_stats"]["bn"]["mean"], 0)
  with pytest.raises(ValueError, match="expects 8 slots"):
    jax.eval_shape(model.apply, v, feats[:, :5], parts[:, :5], mask[:, :5])


@pytest.mark.parametrize("name", ["deepsets", "attention"])
def test_set_graders_ignore_order_and_padding(name):
  model = models.make_grader(name, hidden=16, dropout=0.0)
  if name == "attention":
    model = models.AttentionGrader(dim=16, heads=2, layers=1, dropout=0.0)
  feats, parts, mask = _inputs()
  v = jax.jit(model.init)(jax.random.key(0), feats, parts, mask)
  perm = jnp.array([3, 1, 7, 0, 5, 2, 6, 4])
  noisy = jnp.where(mask[..., None], feats, 100.0)       # padding content must not matter
  other_parts = (parts + 1) % 6                          # part embeddings do matter
  # one batch of four variants -> one compiled call
  out = jax.jit(model.apply)(v, jnp.concatenate([feats, feats[:, perm], noisy, feats]),
                             jnp.concatenate([parts, parts[:, perm], parts, other_parts]),
                             jnp.concatenate([mask, mask[:, perm], mask, mask]))
  base, permuted, padded, moved = np.split(np.asarray(out), 4)
  np.testing.assert_allclose(permuted, base, rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(padded, base, rtol=1e-4, atol=1e-5)
  assert not np.allclose(moved, base)


def test_make_grader_and_probability():
  with pytest.raises(ValueError, match="model: expected one of"):
    models.make_grader("lstm", 8, 0.0)
  p = models.good_probability(jnp.array([[0.0, 0.0], [0.0, 20.0]]))
  np.testing.assert_allclose(p, [0.5, 1.0], atol=1e-6)
  bf16 = models.SlotGrader(hidden=8, dtype=jnp.bfloat16)
  feats, parts, mask = _inputs()
  v = jax.jit(bf16.init)(jax.random.key(0), feats, parts, mask)
  assert v["params"]["fc1"]["kernel"].dtype == jnp.float32
  assert jax.jit(bf16.apply)(v, feats, parts, mask).dtype == jnp.float32
