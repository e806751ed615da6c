"""QR scene generator: deterministic, disjoint splits, exact corner / payload ground truth."""

from __future__ import annotations

import cv2
import jax.numpy as jnp
import numpy as np
import pytest

from jaxvis.faces.qr import rectify, scenes


def _modules_from_render(scene, k, ppm=8):
  """Rectifies code k with its true corners and reads each module's centre (1 = dark)."""
  n = int(scene.modules[k])
  size = n * ppm
  dst = np.array([[-0.5, -0.5], [size - 0.5, -0.5], [size - 0.5, size - 0.5], [-0.5, size - 0.5]], np.float32)
  m = cv2.getPerspectiveTransform(scene.corners[k], dst)
  gray = cv2.cvtColor(scene.image, cv2.COLOR_RGB2GRAY)
  flat = cv2.warpPerspective(gray, m, (size, size), flags=cv2.INTER_LINEAR)
  centres = flat[ppm // 2::ppm, ppm // 2::ppm].astype(np.float32)
  return (centres < (centres.max() + centres.min()) / 2).astype(np.uint8), flat


def test_clean_scene_corners_map_the_module_grid_and_payload_decodes():
  detector = cv2.QRCodeDetector()
  checked = 0
  for index in range(6):
    scene = scenes.make_scene("train", index, clean=True)
    assert len(scene.payloads) == len(scene.corners) == len(scene.matrices) >= 1
    for k, payload in enumerate(scene.payloads):
      grid, flat = _modules_from_render(scene, k)
      matrix = scene.matrices[k]
      assert grid.shape == matrix.shape == (scene.modules[k],) * 2
      assert np.mean(grid == matrix) > 0.99, np.mean(grid == matrix)
      _, binary = cv2.threshold(flat, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
      padded = cv2.copyMakeBorder(binary, 40, 40, 40, 40, cv2.BORDER_CONSTANT, value=255)
      text, _, _ = detector.detectAndDecode(cv2.resize(padded, None, fx=2, fy=2))
      assert text == payload
      # the box is the corners' inclusive pixel extent
      np.testing.assert_allclose(scene.boxes[k], np.r_[scene.corners[k].min(0) + 0.5,
                                                       scene.corners[k].max(0) - 0.5], atol=1e-4)
      checked += 1
  assert checked >= 6


def test_scenes_are_deterministic_and_splits_disjoint():
  a, b = scenes.make_scene("train", 3), scenes.make_scene("train", 3)
  np.testing.assert_array_equal(a.image, b.image)
  assert a.payloads == b.payloads
  assert not np.array_equal(a.image, scenes.make_scene("train", 4).image)
  assert scenes.scene_seed("heldout", 0) > scenes.scene_seed("train", 999_999)
  train_bg = {hash(p.tobytes()) for p in scenes.backgrounds("train")}
  held_bg = {hash(p.tobytes()) for p in scenes.backgrounds("heldout")}
  assert not train_bg & held_bg
  h = scenes.make_scene("heldout", 0)
  assert h.image.shape == (240, 320, 3) and h.image.dtype == np.uint8
  for box in h.boxes:
    assert 0 <= box[0] < box[2] <= 319 and 0 <= box[1] < box[3] <= 239


def test_orientation_from_finder_patterns_recovers_the_code_top_left():
  for index in range(4):
    scene = scenes.make_scene("heldout", index)
    true = jnp.asarray(scene.corners[:1])[None]
    shifted = jnp.roll(true, index % 4, axis=2)          # as the detector may order them
    oriented, crops = rectify.rectify_and_orient(jnp.asarray(scene.image, jnp.float32)[None], shifted, 160)
    assert crops.shape == (1, 1, 160, 160, 3)
    np.testing.assert_allclose(np.asarray(oriented), np.asarray(true), atol=1e-5)


def test_bad_split_and_index():
  with pytest.raises(ValueError, match="split"):
    scenes.make_scene("test", 0)
  with pytest.raises(ValueError, match="index"):
    scenes.scene_seed("train", -1)
  with pytest.raises(ValueError, match="corners"):
    rectify.rectify(jnp.zeros((1, 8, 8, 3)), jnp.zeros((1, 4, 2)), 16)
