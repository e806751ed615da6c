"""Masking-model training through jaxvis.train.fit: learning, exact resume, frozen encoder."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxvis import train as jtrain
from jaxvis.saliency import model as model_lib
from jaxvis.saliency import objective as obj_lib
from jaxvis.saliency import train as T

CFG = T.TrainConfig(
    masking=model_lib.MaskingConfig.small(3, small_widths=(4, 8, 8), convs_per_block=1, upsampler_base=8),
    objective=obj_lib.ObjectiveConfig(removal=obj_lib.EvidenceRemoval(blur_sigma=1.5)),
    image_size=(16, 16), batch_size=8, num_steps=40, learning_rate=3e-3)


def _toy_data(n=64, seed=0):
  """Class 0/1: a bright square in the left/right half; class 2: in the top-middle."""
  rng = np.random.default_rng(seed)
  x = rng.uniform(0, 0.2, (n, 16, 16, 3)).astype(np.float32)
  y = rng.integers(0, 3, n).astype(np.int32)
  for i, k in enumerate(y):
    r = rng.integers(0, 12)
    c = {0: rng.integers(0, 4), 1: rng.integers(8, 12), 2: 6}[int(k)]
    x[i, r:r + 4, c:c + 4] = 1.0
  return x, y


def _black_box(variables, images):
  # Evidence = brightness in three fixed regions, plus a "nothing" baseline.
  left = jnp.mean(images[:, :, :6], axis=(1, 2, 3))
  right = jnp.mean(images[:, :, 10:], axis=(1, 2, 3))
  mid = jnp.mean(images[:, :, 6:10], axis=(1, 2, 3))
  return variables["scale"] * jnp.stack([left, right, mid], -1)


def _mean_objective(params, x, y, bb_vars):
  """The objective of true-class masks over the whole toy set, with a fixed evidence-removal key."""
  from jaxvis.saliency.explainer import explain
  masks = explain(params, jnp.asarray(x), jnp.asarray(y))
  loss, _ = obj_lib.saliency_objective(jax.random.key(0), lambda im: _black_box(bb_vars, im), jnp.asarray(x),
                                       masks, jnp.asarray(y), jnp.ones(len(y), bool), CFG.objective)
  return float(loss)


def test_training_learns_and_resumes_exactly(tmp_path):
  x, y = _toy_data()
  bb_vars = {"scale": jnp.float32(30.0)}
  full = T.train_masking_model(CFG, x, y, _black_box, bb_vars, workdir=str(tmp_path / "full"),
                               checkpoint_every=20, progress=False)
  log = jtrain.metrics.read_metrics(str(tmp_path / "full"))
  assert [r["step"] for r in log if "objective" in r][-1] == 40
  init = T.params_from_state(CFG, T.create_state(CFG, bb_vars))
  assert _mean_objective(full, x, y, bb_vars) < _mean_objective(init, x, y, bb_vars) - 0.5
  # a run stopped at step 20 and restarted with the same workdir ends where the uninterrupted one did
  T.train_masking_model(CFG, x, y, _black_box, bb_vars, workdir=str(tmp_path / "resumed"), progress=False,
                        stop_after=20)
  resumed = T.train_masking_model(CFG, x, y, _black_box, bb_vars, workdir=str(tmp_path / "resumed"),
                                  checkpoint_every=20, progress=False)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
               full.variables, resumed.variables)


def test_frozen_encoder_and_embedding_warmup():
  cfg = T.TrainConfig(masking=model_lib.MaskingConfig(num_classes=3, encoder="resnet_tiny", upsampler_base=16,
                                                      bottlenecks_per_upsampler=1),
                      image_size=(32, 32), batch_size=4, num_steps=2, embedding_warmup_steps=1)
  state = T.create_state(cfg, {"scale": jnp.float32(1.0)})
  grads = jax.tree.map(jnp.ones_like, state.params)
  apply = jax.jit(lambda s, g: s.apply_gradients(g))
  new = apply(state, grads)
  moved = jax.tree_util.tree_map_with_path(
      lambda p, a, b: (jax.tree_util.keystr(p), bool(jnp.any(a != b))), state.params, new.params)
  moved = dict(jax.tree.leaves(moved, is_leaf=lambda t: isinstance(t, tuple)))
  assert not any(v for k, v in moved.items() if k.startswith("['encoder']"))          # frozen
  assert any(v for k, v in moved.items() if "class_embedding" in k)                     # warm-up trains C
  assert not any(v for k, v in moved.items() if "upsampler" in k)                       # ... and only C
  newer = apply(new, grads)
  assert any(bool(jnp.any(a != b)) for a, b in zip(jax.tree.leaves(new.params["upsampler1"]),
                                                   jax.tree.leaves(newer.params["upsampler1"])))


def test_bad_training_inputs():
  x, y = _toy_data(8)
  with pytest.raises(ValueError, match="labels: expected values"):
    T.train_masking_model(CFG, x, y + 5, _black_box, {"scale": 1.0}, progress=False)
  with pytest.raises(ValueError, match="images: expected"):
    T.train_masking_model(CFG, x[:, :8], y, _black_box, {"scale": 1.0}, progress=False)
  with pytest.raises(ValueError, match="encoder_variables"):
    T.set_encoder_variables(model_lib.init(CFG.masking, jax.random.key(0), (16, 16)),
                            {"params": {"stem_conv": {}}})
