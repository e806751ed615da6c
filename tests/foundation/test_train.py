"""Training core: sharded == single-device, batch errors, multi-process, kill-and-resume."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxvis import data, train

SCRIPT = os.path.join(os.path.dirname(__file__), "train_script.py")


def _env(**extra):
  env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONUNBUFFERED="1")
  env.pop("XLA_FLAGS", None)
  env.update(extra)
  return env


def _run(args, env, timeout=240):
  proc = subprocess.run([sys.executable, SCRIPT, *args], env=env, capture_output=True, text=True,
                        timeout=timeout)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return proc


def test_eight_device_steps_match_single_device(tmp_path):
  out = tmp_path / "r.npz"
  _run(["--mode", "sharded", "--out", str(out)],
       _env(XLA_FLAGS="--xla_force_host_platform_device_count=8"))
  r = np.load(out)
  keys = [k[4:] for k in r.files if k.startswith("one:")]
  assert len(keys) >= 6
  moved = 0.0
  for k in keys:
    np.testing.assert_allclose(r[f"eight:{k}"], r[f"one:{k}"], atol=1e-5, rtol=0, err_msg=k)
    moved = max(moved, float(np.abs(r[f"one:{k}"]).max()))
  assert moved > 0.0


def test_batch_that_does_not_divide_gets_clear_error():
  code = ("import numpy as np; from jaxvis import train\n"
          "m = train.make_mesh()\n"
          "try:\n  train.shard_batch({'image': np.zeros((10, 3))}, m)\n"
          "except ValueError as e:\n  print('ERR', e)\n")
  proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                        env=_env(XLA_FLAGS="--xla_force_host_platform_device_count=8"))
  assert "ERR batch['image']: leading dimension 10 must be divisible by the 8" in proc.stdout, proc.stderr


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def test_two_processes_end_with_the_same_params_as_one(tmp_path):
  port = _free_port()
  procs = []
  for pid in range(2):
    env = _env(JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}", JAX_NUM_PROCESSES="2",
               JAX_PROCESS_ID=str(pid))
    procs.append(subprocess.Popen([sys.executable, SCRIPT, "--mode", "multiprocess", "--out",
                                   str(tmp_path / f"p{pid}.npz")], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
  for p in procs:
    _, err = p.communicate(timeout=240)
    assert p.returncode == 0, err[-3000:]
  _run(["--mode", "single", "--steps", "5", "--out", str(tmp_path / "single.npz")], _env())
  single = np.load(tmp_path / "single.npz")
  for pid in range(2):
    multi = np.load(tmp_path / f"p{pid}.npz")
    for k in single.files:
      np.testing.assert_allclose(multi[k], single[k], atol=1e-5, err_msg=k)


def test_sigkill_mid_run_then_resume_matches_uninterrupted(tmp_path):
  steps = 12
  _run(["--mode", "fit", "--steps", str(steps), "--workdir", str(tmp_path / "ref"),
        "--out", str(tmp_path / "ref.npz")], _env())
  workdir = tmp_path / "killed"
  proc = subprocess.Popen([sys.executable, SCRIPT, "--mode", "fit", "--steps", str(steps),
                           "--workdir", str(workdir), "--out", str(tmp_path / "never.npz"),
                           "--sleep", "0.5"], env=_env(), stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
  ckpt_dir = workdir / "checkpoints"
  deadline = time.time() + 180
  while time.time() < deadline:
    done = [int(d) for d in os.listdir(ckpt_dir) if d.isdigit()] if ckpt_dir.exists() else []
    if done and max(done) >= 4:
      break
    time.sleep(0.2)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  assert not (tmp_path / "never.npz").exists(), "the run finished before it could be killed"
  kept = max(int(d) for d in os.listdir(ckpt_dir) if d.isdigit())
  assert 4 <= kept < steps
  _run(["--mode", "fit", "--steps", str(steps), "--workdir", str(workdir),
        "--out", str(tmp_path / "resumed.npz")], _env())
  ref, resumed = np.load(tmp_path / "ref.npz"), np.load(tmp_path / "resumed.npz")
  for k in ref.files:
    np.testing.assert_array_equal(resumed[k], ref[k], err_msg=k)
  lines = (workdir / "metrics.jsonl").read_text().splitlines()
  assert len(lines) >= steps  # metrics of both runs are kept


def test_train_step_reduces_loss_and_folds_rng_per_step():
  mesh = train.make_mesh(1)
  seen = []

  def loss_fn(params, model_state, batch, rng):
    noise = jax.random.uniform(rng, ())
    loss = jnp.mean((batch["x"] @ params["w"] - batch["y"]) ** 2)
    return loss, (model_state, {"noise": noise})

  rs = np.random.RandomState(0)
  x = rs.randn(16, 4).astype(np.float32)
  batch = train.shard_batch({"x": x, "y": x @ np.ones((4,), np.float32)}, mesh)
  state = train.replicate(train.TrainState.create({"w": jnp.zeros(4)}, optax.sgd(0.1)), mesh)
  step = train.make_train_step(loss_fn, mesh)
  rng = jax.random.key(0)
  losses = []
  for _ in range(20):
    state, m = step(state, batch, rng)
    losses.append(float(m["loss"]))
    seen.append(float(m["noise"]))
  assert losses[-1] < 0.05 * losses[0]
  assert len(set(seen)) == len(seen)
  assert int(state.step) == 20


def test_fit_runs_eval_and_writes_metrics(tmp_path):
  mesh = train.make_mesh(1)

  def loss_fn(params, model_state, batch, rng):
    return jnp.mean((batch["x"] * params["a"] - 2 * batch["x"]) ** 2), (model_state, {})

  src = data.ArraySource({"x": np.linspace(-1, 1, 32, dtype=np.float32)})
  state = train.TrainState.create({"a": jnp.zeros(())}, optax.sgd(0.5))
  state = train.fit(state, train.make_train_step(loss_fn, mesh), data.loader(src, 8), num_steps=30,
                    rng=jax.random.key(0), mesh=mesh, workdir=str(tmp_path), log_every=10,
                    eval_fn=lambda s: {"a": s.params["a"]}, eval_every=10, progress=False)
  assert abs(float(state.params["a"]) - 2.0) < 1e-2
  records = train.metrics.read_metrics(str(tmp_path))
  assert [r["step"] for r in records if "loss" in r] == [10, 20, 30]
  evals = [r["eval_a"] for r in records if "eval_a" in r]
  assert len(evals) == 3 and abs(evals[-1] - 2.0) < 1e-2
  ckpt = train.Checkpointer(str(tmp_path))
  assert ckpt.latest_step() == 30
  ckpt.close()


def test_fit_rejects_negative_steps():
  mesh = train.make_mesh(1)
  state = train.TrainState.create({"a": jnp.zeros(())}, optax.sgd(0.5))
  with pytest.raises(ValueError, match="num_steps"):
    train.fit(state, None, iter([]), num_steps=-1, rng=jax.random.key(0), mesh=mesh)
