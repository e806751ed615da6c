"""The document / screen / sheet training generator: labels on the codes, code-free negatives, determinism, the mix."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import zxingcpp

from jaxvis.errors import InputError
from jaxvis.faces.qr import scenes_documents, train


def _first_of_each_kind(limit=200):
  found = {}
  for i in range(limit):
    found.setdefault(scenes_documents.scene_kind(i), i)
    if len(found) == len(scenes_documents.KINDS):
      break
  return found


def _grid(scene, k, ppm=8):
  """Code k rectified by its true corners, one value per module centre (1 = darker than the middle)."""
  n = int(scene.modules[k])
  size = n * ppm
  dst = np.float32([[-0.5, -0.5], [size - 0.5, -0.5], [size - 0.5, size - 0.5], [-0.5, size - 0.5]])
  m = cv2.getPerspectiveTransform(scene.corners[k], dst)
  flat = cv2.warpPerspective(cv2.cvtColor(scene.image, cv2.COLOR_RGB2GRAY), m, (size, size), flags=cv2.INTER_LINEAR)
  centres = flat[ppm // 2::ppm, ppm // 2::ppm].astype(np.float32)
  return (centres < (centres.max() + centres.min()) / 2).astype(np.uint8)


def test_every_kind_labels_its_codes_inside_the_image_and_on_the_modules():
  h, w = scenes_documents.DocumentSceneConfig().height, scenes_documents.DocumentSceneConfig().width
  for kind, index in _first_of_each_kind().items():
    s = scenes_documents.make_scene(index, clean=True)
    assert s.image.shape == (h, w, 3) and s.image.dtype == np.uint8, kind
    assert len(s.boxes) == len(s.corners) == len(s.payloads) == len(s.matrices) == len(s.modules)
    if kind == "negative":
      assert len(s.boxes) == 0
      continue
    assert len(s.boxes) >= 1, kind
    for k in range(len(s.boxes)):
      c = s.corners[k]
      assert c.min() >= 0 and c[:, 0].max() <= w - 1 and c[:, 1].max() <= h - 1, kind
      np.testing.assert_allclose(s.boxes[k], np.r_[c.min(0) + 0.5, c.max(0) - 0.5], atol=1e-4)
      # clockwise in image coordinates (y down): positive shoelace area
      area = 0.5 * sum(c[i, 0] * c[(i + 1) % 4, 1] - c[(i + 1) % 4, 0] * c[i, 1] for i in range(4))
      assert area > 0, kind
      if np.linalg.norm(c[1] - c[0]) >= 2.5 * s.modules[k]:   # modules resolvable: the grid is the matrix
        grid = _grid(s, k)
        agree = max(np.mean(grid == s.matrices[k]), np.mean(grid != s.matrices[k]))   # inverted codes too
        assert agree > 0.95, (kind, agree)
    if kind == "large":
      assert np.linalg.norm(s.corners[0][1] - s.corners[0][0]) > 100


def test_clean_codes_decode_to_their_payloads_with_their_corners():
  checked = 0
  for index in range(40):
    s = scenes_documents.make_scene(index, clean=True)
    read = {r.text: r for r in zxingcpp.read_barcodes(s.image, try_invert=True)}
    for payload, corners in zip(s.payloads, s.corners):
      if payload in read:
        p = read[payload].position
        found = np.array([[p.top_left.x, p.top_left.y], [p.top_right.x, p.top_right.y],
                          [p.bottom_right.x, p.bottom_right.y], [p.bottom_left.x, p.bottom_left.y]], np.float32)
        side = np.linalg.norm(corners[1] - corners[0])
        assert np.abs(found - corners).max() < max(3.0, 0.08 * side), payload
        checked += 1
    assert set(read) <= set(s.payloads)   # nothing decodes that is not labelled
  assert checked >= 20


def test_negatives_hold_no_readable_code_even_degraded():
  negatives = [i for i in range(120) if scenes_documents.scene_kind(i) == "negative"][:8]
  assert len(negatives) == 8
  for i in negatives:
    s = scenes_documents.make_scene(i)
    assert len(s.boxes) == 0 and s.payloads == []
    assert zxingcpp.read_barcodes(s.image, formats=(zxingcpp.BarcodeFormat.QRCode, zxingcpp.BarcodeFormat.MicroQRCode),
                                  try_invert=True) == []


def test_scenes_are_deterministic_per_index():
  a, b = scenes_documents.make_scene(7), scenes_documents.make_scene(7)
  np.testing.assert_array_equal(a.image, b.image)
  np.testing.assert_array_equal(a.corners, b.corners)
  assert a.payloads == b.payloads
  assert not np.array_equal(a.image, scenes_documents.make_scene(8).image)


def test_bad_settings_are_refused():
  with pytest.raises(InputError, match="index"):
    scenes_documents.make_scene(-1)
  with pytest.raises(InputError, match="kind_weights"):
    scenes_documents.DocumentSceneConfig(kind_weights=(1, 1))
  with pytest.raises(InputError, match="document_share"):
    train.QrTrainConfig(document_share=1.5)
  with pytest.raises(InputError, match="documents"):
    train.QrTrainConfig(document_share=0.5, documents=scenes_documents.DocumentSceneConfig(height=100))
  with pytest.raises(InputError, match="documents"):
    train.QrTrainConfig(hard_negative_scenes=4, documents=scenes_documents.DocumentSceneConfig(height=100))
  with pytest.raises(InputError, match="hard_negative_scenes"):
    train.QrTrainConfig(hard_negative_scenes=-1)


def test_training_mix_draws_the_asked_share_from_each_generator():
  cfg = train.QrTrainConfig(document_share=0.25)
  picked = []
  for i in range(8):
    s = train.training_scene(cfg, i)
    picked.append(np.array_equal(s.image, scenes_documents.make_scene(i).image))
  assert sum(picked) == 2
  assert not any(np.array_equal(train.training_scene(train.QrTrainConfig(), i).image,
                                scenes_documents.make_scene(i).image) for i in range(3))


def test_hard_negatives_are_code_free_deterministic_and_apart_from_the_mix():
  cfg = train.QrTrainConfig(document_share=1.0, hard_negative_scenes=3)
  mix = [train.training_scene(cfg, i).image for i in range(4)]
  for i in range(3):
    s = train.hard_negative_scene(cfg, i)
    assert len(s.boxes) == 0 and s.payloads == [] and s.image.shape == (240, 320, 3)
    np.testing.assert_array_equal(s.image, train.hard_negative_scene(cfg, i).image)
    assert not any(np.array_equal(s.image, m) for m in mix)
    assert zxingcpp.read_barcodes(s.image, formats=(zxingcpp.BarcodeFormat.QRCode, zxingcpp.BarcodeFormat.MicroQRCode),
                                  try_invert=True) == []
  assert not np.array_equal(train.hard_negative_scene(cfg, 0).image, train.hard_negative_scene(cfg, 1).image)
