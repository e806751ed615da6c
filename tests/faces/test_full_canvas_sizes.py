"""Images that fill the canvas run with their sizes as compile-time constants: same detections."""

import jax.numpy as jnp
import numpy as np

from jaxvis.faces import cascade, samples, weights


def test_constant_and_traced_sizes_give_the_same_faces():
  params = weights.load_pretrained()
  frames = samples.frames(2, 240, 320, seed=3)
  const = cascade.detect(params, frames)                                   # sizes None: constants
  full = cascade.detect(params, frames, np.array([[240, 320]] * 2))       # numpy, full: constants too
  traced = cascade.detect(params, frames, jnp.asarray([[240, 320]] * 2))  # a device array: traced
  assert int(np.asarray(const.valid).sum()) > 0
  for other in (full, traced):
    np.testing.assert_array_equal(np.asarray(const.valid), np.asarray(other.valid))
    v = np.asarray(const.valid)
    np.testing.assert_allclose(np.asarray(const.boxes)[v], np.asarray(other.boxes)[v], atol=1e-3)
    np.testing.assert_allclose(np.asarray(const.landmarks)[v], np.asarray(other.landmarks)[v], atol=1e-3)
