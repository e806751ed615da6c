"""Image ops: resize, blur, crop_and_resize checked on values."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import ndimage

from jaxvis.ops import image


def test_crop_and_resize_identity_and_subpixel():
  img = np.arange(5 * 7, dtype=np.float32).reshape(1, 5, 7, 1)
  whole = image.crop_and_resize(jnp.asarray(img), jnp.array([[[0.0, 0.0, 6.0, 4.0]]]), (5, 7))
  np.testing.assert_allclose(whole[0, 0], img[0], atol=1e-5)
  # a box between pixel centres interpolates bilinearly: value(y, x) = 7y + x is linear
  patch = image.crop_and_resize(jnp.asarray(img), jnp.array([[1.5, 0.5, 3.5, 2.5]]), (3, 3))
  ys, xs = np.meshgrid([0.5, 1.5, 2.5], [1.5, 2.5, 3.5], indexing="ij")
  np.testing.assert_allclose(patch[0, ..., 0], 7 * ys + xs, atol=1e-4)


def test_crop_and_resize_pads_outside_with_extrapolation_value():
  img = jnp.ones((1, 4, 4, 3))
  out = image.crop_and_resize(img, jnp.array([[[-4.0, -4.0, 3.0, 3.0]]]), (8, 8),
                              extrapolation_value=-1.0)
  out = np.asarray(out[0, 0, ..., 0])
  assert (out[:4, :4] == -1).all() and (out[4:, 4:] == 1).all()


def test_crop_and_resize_is_jittable_and_vmaps_boxes_per_image():
  img = jax.random.uniform(jax.random.key(0), (2, 16, 16, 3))
  boxes = jnp.array([[[0, 0, 7, 7], [8, 8, 15, 15]], [[0, 8, 7, 15], [2, 2, 9, 9]]], jnp.float32)
  out = jax.jit(image.crop_and_resize, static_argnums=2)(img, boxes, (8, 8))
  assert out.shape == (2, 2, 8, 8, 3)
  np.testing.assert_allclose(out[1, 0], img[1, 8:16, 0:8], atol=1e-5)
  with pytest.raises(ValueError, match="boxes"):
    image.crop_and_resize(img, boxes[:1], (8, 8))


def test_gaussian_blur_matches_scipy_and_preserves_mean():
  x = np.random.RandomState(0).rand(1, 32, 32, 2).astype(np.float32)
  got = np.asarray(image.gaussian_blur(jnp.asarray(x), 2.0))
  ref = ndimage.gaussian_filter(x, sigma=(0, 2.0, 2.0, 0), mode="mirror", truncate=3.0)
  np.testing.assert_allclose(got, ref, atol=2e-3)
  traced = jax.jit(lambda im, s: image.gaussian_blur_traced(im, s, 6))(jnp.asarray(x), jnp.array([2.0]))
  np.testing.assert_allclose(traced, got, atol=1e-5)
  with pytest.raises(ValueError, match="sigma"):
    image.gaussian_blur(jnp.asarray(x), 0.0)


def _numpy_separable(x, k, mode):
  r = (len(k) - 1) // 2
  p = np.pad(x, ((0, 0), (r, r), (r, r), (0, 0)), mode=mode)
  h, w = x.shape[1:3]
  rows = sum(k[t] * p[:, t:t + h] for t in range(len(k)))
  return sum(k[t] * rows[:, :, t:t + w] for t in range(len(k)))


@pytest.mark.parametrize("shape,sigma,radius,mode", [((2, 9, 13, 3), 1.5, 4, "reflect"),
                                                     ((1, 5, 7, 1), 3.0, 6, "edge")])
def test_gaussian_blur_equals_padded_separable_convolution(shape, sigma, radius, mode):
  # reflect padding (numpy's, no edge repeat) when the radius fits the image, else edge padding.
  x = np.random.RandomState(1).rand(*shape).astype(np.float32)
  k = np.asarray(image.gaussian_kernel1d(sigma, radius))
  got = np.asarray(jax.jit(lambda im: image.gaussian_blur(im, sigma, radius))(jnp.asarray(x)))
  np.testing.assert_allclose(got, _numpy_separable(x, k, mode), atol=1e-6)
  sigmas = jnp.array([sigma] * shape[0])
  np.testing.assert_allclose(image.gaussian_blur_traced(jnp.asarray(x), sigmas, radius), got, atol=1e-6)


def test_resize_shapes_and_constant():
  x = jnp.full((2, 10, 12, 3), 0.25)
  y = image.resize(x, (5, 24))
  assert y.shape == (2, 5, 24, 3)
  np.testing.assert_allclose(y, 0.25, atol=1e-6)
  with pytest.raises(ValueError, match="rank 4"):
    image.resize(x[0], (4, 4))


def test_resize_refuses_empty_or_negative_size():
  import pytest
  from jaxvis.ops import image as image_ops
  x = np.zeros((1, 4, 4, 3), np.float32)
  for size in ((-2, 3), (0, 3), (3,)):
    with pytest.raises(ValueError, match="size: expected"):
      image_ops.resize(x, size)
