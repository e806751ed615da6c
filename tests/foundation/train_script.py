"""A small deterministic training run used by the foundation tests (run as a subprocess).

    python train_script.py --mode sharded   --out result.npz      # 1-device vs 8-device steps
    python train_script.py --mode fit --workdir W --steps N --out result.npz [--sleep S]
    python train_script.py --mode multiprocess --out result.npz   # under JAX_COORDINATOR_ADDRESS
"""

from __future__ import annotations

import argparse
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxvis import data, train


class Net(nn.Module):
  @nn.compact
  def __call__(self, x, train_mode: bool, rng=None):
    x = nn.relu(nn.Dense(32)(x))
    x = nn.BatchNorm(use_running_average=not train_mode, momentum=0.9)(x)
    x = nn.Dropout(0.2, deterministic=not train_mode)(x, rng=rng)
    return nn.Dense(3)(x)


def make_problem(n=256, seed=0):
  rs = np.random.RandomState(seed)
  x = rs.randn(n, 8).astype(np.float32)
  y = (x[:, :3].argmax(1)).astype(np.int32)
  return x, y


def loss_fn(params, model_state, batch, rng):
  logits, updates = Net().apply({"params": params, **model_state}, batch["x"], True, rng,
                                mutable=["batch_stats"])
  loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"]).mean()
  return loss, (dict(updates), {"acc": (logits.argmax(-1) == batch["y"]).mean()})


def init_state():
  variables = Net().init(jax.random.key(0), jnp.zeros((2, 8)), False)
  return train.TrainState.create(variables["params"], optax.adam(1e-2),
                                 {"batch_stats": variables["batch_stats"]})


def params_of(state):
  return {"/".join(str(getattr(k, "key", k)) for k in path): np.asarray(v)
          for path, v in jax.tree_util.tree_leaves_with_path(
              {"params": state.params, "model_state": state.model_state})}


def run_steps(mesh, batches, num_steps=5):
  state = train.replicate(init_state(), mesh)
  step = train.make_train_step(loss_fn, mesh)
  rng = jax.random.key(42)
  for b in batches[:num_steps]:
    state, _ = step(state, train.shard_batch(b, mesh), rng)
  return params_of(state)


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--mode", required=True)
  parser.add_argument("--out", required=True)
  parser.add_argument("--workdir")
  parser.add_argument("--steps", type=int, default=12)
  parser.add_argument("--sleep", type=float, default=0.0)
  args = parser.parse_args()
  x, y = make_problem()
  if args.mode == "sharded":
    it = data.loader(data.ArraySource({"x": x, "y": y}), 32, seed=1)
    batches = [next(it) for _ in range(5)]
    one = run_steps(train.make_mesh(1), batches)
    eight = run_steps(train.make_mesh(8), batches)
    np.savez(args.out, **{f"one:{k}": v for k, v in one.items()},
             **{f"eight:{k}": v for k, v in eight.items()})
  elif args.mode == "multiprocess":
    train.distributed.maybe_initialize()
    mesh = train.make_mesh()
    it = data.loader(data.ArraySource({"x": x, "y": y}), 32, seed=1, shuffle=False)
    state = train.fit(init_state(), train.make_train_step(loss_fn, mesh), it, num_steps=5,
                      rng=jax.random.key(42), mesh=mesh, progress=False)
    np.savez(args.out, **params_of(state))
  elif args.mode in ("fit", "single"):
    mesh = train.make_mesh()
    src = data.ArraySource({"x": x, "y": y})
    if args.mode == "fit":
      it = data.loader(src, 32, seed=1)
    else:  # one process seeing the global batches that two processes assemble from their slices
      halves = [data.loader(src, 32, seed=1, shuffle=False, process_index=i, process_count=2)
                for i in range(2)]
      it = ({k: np.concatenate([a[k], b[k]]) for k in a} for a, b in zip(*halves))
    step = train.make_train_step(loss_fn, mesh)
    if args.sleep:
      inner = step

      def step(state, batch, rng):  # slow steps so the test can kill the run mid-way
        time.sleep(args.sleep)
        return inner(state, batch, rng)
    state = train.fit(init_state(), step, it, num_steps=args.steps, rng=jax.random.key(42),
                      mesh=mesh, workdir=args.workdir, checkpoint_every=2,
                      config={"steps": args.steps}, progress=False, log_every=1)
    np.savez(args.out, **params_of(state))
  else:
    raise SystemExit(f"--mode: unknown {args.mode}")


if __name__ == "__main__":
  main()
