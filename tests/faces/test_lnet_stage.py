"""The optional L-Net stage: patch geometry and the authors' 0.35 clamp."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxvis.faces import cascade, nets


def _params_with_output(value):
  """L-Net parameters whose every head outputs `value` (zero last kernels)."""
  x = jnp.zeros((1, 5, 24, 24, 3))
  params = jax.eval_shape(nets.LNet().init, jax.random.key(0), x)["params"]
  params = jax.tree_util.tree_map(lambda s: np.zeros(s.shape, np.float32), params)
  for k in range(5):
    params[f"fc6_{k}"]["bias"] = np.array(value[k], np.float32)
  return params


def test_lnet_moves_landmarks_within_the_patch_and_ignores_large_moves():
  norm = jnp.zeros((1, 64, 64, 3))
  sizes = jnp.array([[64, 64]])
  boxes = jnp.array([[10., 10., 49., 49.]])          # side 40 -> patch 10 px
  marks = jnp.array([[[20., 20.], [40., 20.], [30., 30.], [22., 40.], [38., 40.]]])
  valid = jnp.array([True])
  cfg = cascade.CascadeConfig(use_lnet=True)
  value = [(0.5, 0.5), (0.7, 0.3), (0.9, 0.5), (0.5, 0.1), (0.2, 0.8)]
  run = jax.jit(lambda p, m, v: cascade.lnet_stage(p, norm, sizes, jnp.array([0]), boxes, m, v, cfg))
  out = np.asarray(run(_params_with_output(value), marks, valid))[0]
  origin = np.round(np.asarray(marks[0]) - 5.0)
  expect = origin + np.array([(0.5, 0.5), (0.7, 0.3), (0.5, 0.5), (0.5, 0.5), (0.2, 0.8)]) * 10
  np.testing.assert_allclose(out, expect, atol=1e-5)     # |0.9-0.5|, |0.1-0.5| > 0.35: no move
  same = np.asarray(run(_params_with_output(value), marks, jnp.array([False])))[0]
  np.testing.assert_allclose(same, marks[0])            # invalid slots untouched
