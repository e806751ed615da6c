"""Checkpoints you can trust: corruption fallback, config / shape mismatch, NaN guard, workdir lock."""

from __future__ import annotations

import dataclasses
import glob
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxvis import data, train
from jaxvis.errors import InputError


@dataclasses.dataclass(frozen=True)
class Cfg:
  lr: float = 0.5
  width: int = 3
  num_steps: int = 6


def _loss_fn(params, model_state, batch, rng):
  pred = batch["x"][:, None] * params["w"]
  return jnp.mean((pred - 2.0 * batch["x"][:, None]) ** 2), (model_state, {})


def _run(workdir, cfg=Cfg(), steps=None, **kw):
  mesh = train.make_mesh(1)
  src = data.ArraySource({"x": np.linspace(-1, 1, 32, dtype=np.float32)})
  state = train.TrainState.create({"w": jnp.zeros((cfg.width,))}, optax.sgd(cfg.lr))
  return train.fit(state, train.make_train_step(_loss_fn, mesh), data.loader(src, 8),
                   num_steps=steps or cfg.num_steps, rng=jax.random.key(0), mesh=mesh,
                   workdir=str(workdir), config=cfg, checkpoint_every=2, log_every=2,
                   progress=False, **kw)


def _array_files(step_dir):
  files = [f for f in glob.glob(os.path.join(step_dir, "state", "**", "*"), recursive=True)
           if os.path.isfile(f) and "/d/" in f]
  assert files, os.listdir(os.path.join(step_dir, "state"))
  return files


def test_bit_flip_in_latest_step_falls_back_to_previous(tmp_path):
  ref = _run(tmp_path / "ref", steps=4)
  _run(tmp_path / "w", steps=6)
  step6 = tmp_path / "w" / "checkpoints" / "6"
  for f in _array_files(str(step6)):
    raw = bytearray(open(f, "rb").read())
    raw[len(raw) // 2] ^= 0xFF
    open(f, "wb").write(bytes(raw))
  ckpt = train.Checkpointer(str(tmp_path / "w"))
  state = train.TrainState.create({"w": jnp.zeros((3,))}, optax.sgd(0.5))
  with pytest.warns(UserWarning, match="step 6 .* cannot be trusted"):
    restored = ckpt.restore(state)
  ckpt.close()
  assert int(restored.step) == 4
  np.testing.assert_array_equal(np.asarray(restored.params["w"]), np.asarray(ref.params["w"]))
  assert not step6.exists() and len(os.listdir(tmp_path / "w" / "checkpoints-corrupt")) == 1


def test_truncated_latest_step_resumes_and_finishes(tmp_path):
  ref = _run(tmp_path / "ref", steps=8)
  _run(tmp_path / "w", steps=6)
  for f in _array_files(str(tmp_path / "w" / "checkpoints" / "6")):
    open(f, "r+b").truncate(3)
  with pytest.warns(UserWarning, match="cannot be trusted"):
    done = _run(tmp_path / "w", steps=8)
  assert int(done.step) == 8
  np.testing.assert_allclose(np.asarray(done.params["w"]), np.asarray(ref.params["w"]), atol=1e-6)


def test_all_steps_unreadable_is_one_clear_error(tmp_path):
  _run(tmp_path / "w", steps=4)
  for step_dir in glob.glob(str(tmp_path / "w" / "checkpoints" / "[0-9]*")):
    for f in _array_files(step_dir):
      open(f, "wb").write(b"garbage")
  with pytest.warns(UserWarning), pytest.raises(InputError, match="no readable checkpoint"):
    _run(tmp_path / "w", steps=6)


def test_resume_with_other_config_is_refused(tmp_path):
  _run(tmp_path / "w", steps=4)
  with pytest.raises(InputError, match=r"different configuration \(lr: 0.5 \(saved\) vs 0.1 \(now\)"):
    _run(tmp_path / "w", cfg=Cfg(lr=0.1), steps=6)
  # More steps (a resumable field) is fine.
  assert int(_run(tmp_path / "w", steps=6).step) == 6


def test_resume_with_other_shapes_is_refused(tmp_path):
  _run(tmp_path / "w", steps=4)
  mesh = train.make_mesh(1)
  src = data.ArraySource({"x": np.linspace(-1, 1, 32, dtype=np.float32)})
  state = train.TrainState.create({"w": jnp.zeros((5,))}, optax.sgd(0.5))
  with pytest.raises(InputError, match="other shapes"):
    train.fit(state, train.make_train_step(_loss_fn, mesh), data.loader(src, 8), num_steps=6,
              rng=jax.random.key(0), mesh=mesh, workdir=str(tmp_path / "w"), progress=False)


def test_nonfinite_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
  with pytest.raises(train.TrainingDiverged, match="loss: became NaN or infinite .*Lower the learning rate"):
    _run(tmp_path / "w", cfg=Cfg(lr=float("nan")), steps=6)
  ckpt = train.Checkpointer(str(tmp_path / "w"))
  assert ckpt.all_steps() == []  # nothing non-finite was saved (the first step already diverged)
  ckpt.close()


def test_nonfinite_step_leaves_state_unchanged_and_skip_policy_counts(tmp_path):
  mesh = train.make_mesh(1)

  def loss_fn(params, model_state, batch, rng):  # NaN on the batch holding x == 0.5 exactly
    bad = jnp.any(batch["x"] == 0.5)
    loss = jnp.mean((batch["x"] * params["a"] - 2 * batch["x"]) ** 2)
    return jnp.where(bad, jnp.nan, loss), (model_state, {})

  xs = (np.arange(1, 17) / 10).astype(np.float32)  # the second batch of 4 holds 0.5
  src = data.ArraySource({"x": xs})
  state = train.TrainState.create({"a": jnp.zeros(())}, optax.sgd(0.5))
  out = train.fit(state, train.make_train_step(loss_fn, mesh), data.loader(src, 4, shuffle=False),
                  num_steps=4, rng=jax.random.key(0), mesh=mesh, workdir=str(tmp_path),
                  log_every=1, progress=False, on_nonfinite="skip")
  assert int(out.step) == 4 and np.isfinite(float(out.params["a"])) and float(out.params["a"]) != 0.0
  records = train.metrics.read_metrics(str(tmp_path))
  assert [r["nonfinite"] for r in records] == [0, 1, 0, 0]
  assert records[-1]["nonfinite_total"] == 1


def test_second_run_in_same_workdir_is_refused(tmp_path):
  with train.workdir_lock(str(tmp_path)):
    with pytest.raises(InputError, match="in use by another run"):
      _run(tmp_path, steps=2)
  assert int(_run(tmp_path, steps=2).step) == 2  # released afterwards
