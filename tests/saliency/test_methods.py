"""Comparison methods on a classifier whose evidence location is known."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxvis.saliency import methods as M
from jaxvis.saliency import objective as O


def _local_classifier(images):
  """Class 0 evidence lives in rows 2..5 x cols 2..5 of the red channel; class 1 is a constant."""
  patch = jnp.sum(images[:, 2:6, 2:6, 0] ** 2, axis=(1, 2))
  return jnp.stack([patch - 2.0, jnp.zeros_like(patch)], -1)


def _features(images):
  """A fixed stride-2 'conv map': channel 0 detects red in rows/cols 2..5, channel 1 is green anywhere."""
  sub = images[:, ::2, ::2, :]
  detector = jnp.zeros((8, 8)).at[1:3, 1:3].set(1.0)
  return jnp.stack([sub[..., 0] * detector, sub[..., 1]], -1)


def _head(fmap):
  # class 0 uses the detector channel; class 1 is a constant (no evidence anywhere)
  return jnp.stack([jnp.sum(fmap[..., 0], axis=(1, 2)), jnp.zeros(fmap.shape[0])], -1)


def _inside_fraction(maps):
  inside = jnp.zeros((16, 16), bool).at[2:6, 2:6].set(True)
  return jnp.sum(maps * inside, axis=(1, 2)) / jnp.maximum(jnp.sum(maps, axis=(1, 2)), 1e-9)


X = jax.random.uniform(jax.random.key(0), (2, 16, 16, 3), minval=0.5, maxval=1.0)
IDS = jnp.array([0, 0])


def test_gradient_family_finds_the_evidence():
  for maps in (M.gradient(_local_classifier, X, IDS),
               M.smoothgrad(_local_classifier, X, IDS, jax.random.key(1), num_samples=4),
               M.integrated_gradients(_local_classifier, X, IDS, num_steps=4)):
    assert maps.shape == (2, 16, 16)
    np.testing.assert_allclose(jnp.max(maps, axis=(1, 2)), 1.0, rtol=1e-6)
    assert float(jnp.min(_inside_fraction(maps))) > 0.99
  # IG completeness: attributions sum to f(x) - f(baseline) before normalisation
  ig = jnp.sum((X - 0) * jnp.mean(jnp.stack([jax.grad(lambda z: _local_classifier(z)[:, 0].sum())(a * X)
                                             for a in (jnp.arange(64) + 0.5) / 64]), 0))
  np.testing.assert_allclose(ig, jnp.sum(_local_classifier(X)[:, 0] + 2.0), rtol=1e-3)


def test_grad_cam_weights_the_used_channels():
  cam = M.grad_cam(_features, _head, X, IDS)
  assert cam.shape == (2, 16, 16)
  assert float(jnp.min(_inside_fraction(cam))) > 0.6  # bilinear upsampling spreads it a little
  assert float(jnp.max(M.grad_cam(_features, _head, X, jnp.array([1, 1])))) == 0.0


def test_iterative_mask_keeps_the_evidence():
  # A red square at rows/cols 2..5 on black: the only evidence for class 0.
  x = jnp.zeros((2, 16, 16, 3)).at[:, 2:6, 2:6, 0].set(1.0)
  clf = lambda im: jnp.stack([4 * jnp.sum(im[:, 2:6, 2:6, 0], axis=(1, 2)) - 32, jnp.zeros(im.shape[0])], -1)
  cfg = M.IterativeMaskConfig(num_iterations=80, learning_rate=0.2, mask_stride=2,
                              objective=O.ObjectiveConfig(removal=O.EvidenceRemoval(blur_sigma=3.0)))
  masks = jax.jit(lambda im, c: M.iterative_mask(clf, im, c, jax.random.key(2), cfg))(x, IDS)
  assert masks.shape == (2, 16, 16) and bool(jnp.all((masks >= 0) & (masks <= 1)))
  inside = float(jnp.mean(masks[:, 2:6, 2:6]))
  far = float(jnp.mean(masks[:, 9:, 9:]))
  assert inside > 0.5 and far < 0.2
