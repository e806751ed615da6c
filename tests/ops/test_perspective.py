"""ops.image perspective ops checked against OpenCV."""

from __future__ import annotations

import cv2
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxvis.ops import image


def _quads(rng, n):
  base = np.array([[10, 12], [90, 8], [95, 70], [5, 80]], np.float32)
  return base[None] + rng.uniform(-6, 6, (n, 4, 2)).astype(np.float32)


def test_homography_matches_get_perspective_transform():
  rng = np.random.default_rng(0)
  src, dst = _quads(rng, 5), _quads(rng, 5) * 1.7 + 3
  h = np.asarray(jax.jit(image.homography_from_points)(src, dst))
  for k in range(5):
    ref = cv2.getPerspectiveTransform(src[k], dst[k])
    np.testing.assert_allclose(h[k], ref / ref[2, 2], rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(np.asarray(image.apply_homography(h[k], src[k])), dst[k], atol=2e-3)


def test_warp_perspective_matches_opencv_inverse_map():
  rng = np.random.default_rng(1)
  img = cv2.GaussianBlur(rng.uniform(0, 255, (60, 80, 3)).astype(np.float32), (0, 0), 2.0)
  out_hw = (40, 50)
  dst = np.array([[0, 0], [49, 0], [49, 39], [0, 39]], np.float32)
  quads = np.array([[[5, 4], [70, 9], [66, 55], [9, 50]],      # inside, rotated and skewed
                    [[-8, -5], [60, 2], [85, 64], [3, 50]]],    # partly outside: blends to fill
                   np.float32)
  hs = jnp.stack([image.homography_from_points(dst, q) for q in quads])      # output -> input
  got = np.asarray(image.warp_perspective(jnp.asarray(img)[None], hs[None], out_hw, extrapolation_value=7.0))
  for k, q in enumerate(quads):
    m = cv2.getPerspectiveTransform(dst, q)
    ref = cv2.warpPerspective(img, m, out_hw[::-1], flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=(7, 7, 7))
    diff = np.abs(got[0, k] - ref)
    # OpenCV quantises sample positions to 1/32 px: small differences only
    assert diff.mean() < 0.3 and diff.max() < 3.0, (diff.mean(), diff.max())
  # a warp that is the identity returns the image
  ident = np.asarray(image.warp_perspective(jnp.asarray(img)[None], jnp.eye(3)[None], (60, 80)))
  np.testing.assert_allclose(ident[0], img, atol=1e-3)


def test_perspective_bad_input():
  with pytest.raises(ValueError, match="src, dst"):
    image.homography_from_points(np.zeros((3, 2)), np.zeros((3, 2)))
  with pytest.raises(ValueError, match="homographies"):
    image.warp_perspective(jnp.zeros((2, 8, 8, 1)), jnp.zeros((3, 3, 3)), (4, 4))
  with pytest.raises(ValueError, match="images"):
    image.warp_perspective(jnp.zeros((8, 8, 1)), jnp.zeros((1, 3, 3)), (4, 4))
