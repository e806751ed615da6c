"""The R-/O-Net pools run the network only on about as many crops as there are candidates:
the smallest switch branch that holds them, or as many loop steps of `step` crops."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxvis.faces import cascade


def test_branches_halve_and_keep_whole_chunks():
  assert cascade._pool_branches(32) == [8, 16, 32]
  assert cascade._pool_branches(256) == [8, 16, 32, 64, 128, 256]
  assert cascade._pool_branches(8) == [8]
  for size in (3072, 8192, 5120):
    branches = cascade._pool_branches(size)
    assert branches[-1] == size and branches == sorted(set(branches))
    assert all(n % cascade.POOL_CHUNK == 0 for n in branches if n > cascade.POOL_CHUNK)


@pytest.mark.parametrize("mode", ["switch", "loop"])
@pytest.mark.parametrize("count", [0, 5, 16, 17, 60, 64, 65, 128, 200])
def test_pool_equals_one_full_pool(count, mode, monkeypatch):
  rng = np.random.default_rng(count)
  b, k, h, w = 2, 128, 40, 48
  norm = jnp.asarray(rng.uniform(-1, 1, (b, h, w, 3)).astype(np.float32))
  sizes = jnp.asarray([[h, w], [30, 40]], jnp.int32)
  xy = rng.uniform(0, 20, (b, k, 2))
  boxes = jnp.asarray(np.concatenate([xy, xy + rng.uniform(4, 18, (b, k, 2))], -1).astype(np.float32))
  flat = np.zeros(b * k, bool)
  flat[rng.choice(b * k, count, replace=False)] = True
  valid = jnp.asarray(flat.reshape(b, k))
  evaluated = []
  def apply(crops):  # any per-crop function; counts the crops it is traced on
    evaluated.append(crops.shape[0])
    return crops.mean(axis=(1, 2)), crops[:, 3, 5]
  run = jax.jit(lambda *a: cascade._pooled_net(apply, *a, crop=12, per_image=64, pool_mode=mode))
  switched = run(norm, sizes, boxes, valid)
  if mode == "loop":  # one traced step of RNET_POOL_STEP crops, run as often as needed
    assert set(evaluated) == {cascade.RNET_POOL_STEP}
  monkeypatch.setattr(cascade, "MIN_POOL_BRANCH", 10 ** 6)  # one branch: the whole pool
  full = jax.jit(lambda *a: cascade._pooled_net(apply, *a, crop=12, per_image=64, pool_mode="switch"))(
      norm, sizes, boxes, valid)
  for a, f in zip(jax.tree.leaves(switched), jax.tree.leaves(full)):  # reductions may reassociate
    np.testing.assert_allclose(np.asarray(a), np.asarray(f), rtol=1e-5, atol=1e-7)
  (means, _), fits, lost = switched
  pool = 128  # _pool_size(k=128, per_image=64, b=2): the static pool; beyond it images are flagged
  assert int(np.asarray(fits).sum()) == min(count, pool)
  assert bool(np.asarray(lost).any()) == (count > pool)
  fits = np.asarray(fits)
  assert (np.abs(np.asarray(means))[fits] > 0).all()   # every candidate that fits was evaluated
  assert (np.asarray(means)[~fits] == 0).all()


def test_unknown_pool_mode_is_refused():
  valid = jnp.ones((1, 8), bool)
  with pytest.raises(Exception, match="pool_mode"):
    cascade._pooled_net(lambda c: (c,), jnp.zeros((1, 16, 16, 3)), jnp.asarray([[16, 16]]),
                        jnp.zeros((1, 8, 4)), valid, crop=12, per_image=8, pool_mode="fast")
