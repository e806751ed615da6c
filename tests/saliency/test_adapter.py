"""A user-defined Flax classifier trained, then explained (masking model on its own features,
Grad-CAM by layer name) through the public API only."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxvis.saliency as saliency
from jaxvis.errors import InputError


class UserNet(nn.Module):
  """Not a jaxvis module: the user's own layer names and strides (2, 4, 8)."""

  @nn.compact
  def __call__(self, x):
    x = nn.relu(nn.Conv(8, (3, 3), strides=2, name="block1")(x))
    x = nn.relu(nn.Conv(16, (3, 3), strides=2, name="block2")(x))
    x = nn.relu(nn.Conv(32, (3, 3), strides=2, name="block3")(x))
    return nn.Dense(2, name="classify")(jnp.mean(x, axis=(1, 2)))


def _squares(n, seed):
  """Grey 32x32 noise with one 10x10 square, red (class 0) or blue (class 1), anywhere."""
  rng = np.random.default_rng(seed)
  x = 0.5 + 0.05 * rng.standard_normal((n, 32, 32, 3))
  y = rng.integers(0, 2, n)
  boxes = rng.integers(0, 22, (n, 2))
  for i in range(n):
    r, c = boxes[i]
    x[i, r:r + 10, c:c + 10] = (0.9, 0.2, 0.2) if y[i] == 0 else (0.2, 0.2, 0.9)
  return x.astype(np.float32), y.astype(np.int32), boxes


def test_user_classifier_trained_and_explained_through_the_public_api():
  x, y, boxes = _squares(256, 0)
  net = UserNet()
  prep = lambda im: (im - 0.5) / 0.25  # the user's preprocessing: the adapter applies it
  variables = saliency.train_classifier(net, np.asarray(prep(x)), y, num_steps=120, batch_size=32,
                                        learning_rate=3e-3, progress=False)
  clf = saliency.FlaxClassifier(net.apply, variables, taps=("block2", "block3"), preprocess=prep)
  xt, yt, bt = _squares(32, 1)
  assert float(np.mean(np.argmax(clf.logits(jnp.asarray(xt)), -1) == yt)) >= 0.9
  assert clf.strides((32, 32)) == (4, 8)
  params = clf.train_masking_model(x, y, num_steps=150, batch_size=32, learning_rate=3e-3)
  assert params.config.encoder == "external" and params.config.external_strides == (4, 8)
  masks = np.asarray(clf.explain(params, xt, yt))
  assert masks.shape == (32, 32, 32) and np.all((masks >= 0) & (masks <= 1))
  inside = np.zeros(masks.shape, bool)
  for i, (r, c) in enumerate(bt):
    inside[i, r:r + 10, c:c + 10] = True
  # the mask sits on the square: inside much higher than outside
  assert masks[inside].mean() > masks[~inside].mean() + 0.2
  # Grad-CAM by layer name equals Grad-CAM with the model split by hand
  cam = clf.grad_cam(jnp.asarray(xt[:4]), jnp.asarray(yt[:4]))
  fmap = clf.tap_maps(jnp.asarray(xt[:4]))[1]
  def score(a):  # logits from the (pre-ReLU) block3 output
    w = variables["params"]["classify"]
    return jnp.sum(jnp.take_along_axis(jnp.mean(nn.relu(a), axis=(1, 2)) @ w["kernel"] + w["bias"],
                                       jnp.asarray(yt[:4])[:, None], axis=1))
  want = saliency.methods.grad_cam_from(fmap, jax.grad(score)(fmap), (32, 32))
  np.testing.assert_allclose(cam, want, atol=1e-5)
  with pytest.raises(InputError, match="taps"):
    saliency.FlaxClassifier(net.apply, variables, taps=("block9",)).tap_maps(jnp.asarray(xt[:1]))
