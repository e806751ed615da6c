"""Capacity by construction: crowds of real faces and mixed batches give the `mtcnn` package's faces.

Crowds are real faces (skimage lfw_subset and astronaut crops) tiled on real photos
(`samples.crowd`). Every image runs in ONE `FaceDetector` call beside very different
batch-mates; the reference runs each image alone. Same count, IoU >= 0.9 one-to-one,
landmarks within 2 px, and the crowd alone gives the same faces as in the mix.
"""

import numpy as np
import pytest

from jaxvis.faces import FaceDetector, cascade, detector, samples
from jaxvis.ops import boxes as box_ops


def _mixed_images():
  return {
      "crowd60_480x640": samples.crowd(0, (480, 640), 60)[0],
      "astronaut_320": samples.astronaut_variants()["scale_320"],
      "crowd50_416x560": samples.crowd(3, (416, 560), 50, face_sizes=(32, 40, 48))[0],
      "mosaic_320": samples.lfw_mosaic(4)[0],
      "empty_200x300": np.full((200, 300, 3), 128, np.uint8),
  }


def assert_same_faces(ref: np.ndarray, faces, name: str):
  """ref: the package's numpy rows [image, x1, y1, x2, y2, score, 5 x, 5 y]."""
  assert len(faces) == len(ref), (name, len(faces), len(ref))
  if not len(ref):
    return
  mine = np.array([f.box for f in faces], np.float32)
  iou = np.asarray(box_ops.iou(np.asarray(ref[:, 1:5], np.float32), mine))
  match = iou.argmax(1)
  assert (iou.max(1) >= 0.9).all(), (name, np.sort(iou.max(1))[:5])
  assert len(set(match.tolist())) == len(ref), name              # one-to-one
  ref_marks = np.stack([ref[:, 6:11], ref[:, 11:16]], -1)
  my_marks = np.array([faces[j].landmarks for j in match])
  assert np.abs(ref_marks - my_marks).max() <= 2.0, name


@pytest.fixture(scope="module")
def mixed(mtcnn_params, reference_detector):
  images = _mixed_images()
  ref = {n: reference_detector.detect_faces(im, box_format="xyxy", output_type="numpy", threshold_onet=0.7)
         for n, im in images.items()}
  fd = FaceDetector(params=mtcnn_params, batch_size=8)
  faces, overflow = fd.detect_with_overflow(list(images.values()))
  return images, ref, dict(zip(images, faces)), overflow, fd


def test_crowds_and_mixed_batch_match_the_package(mixed):
  _, ref, ours, overflow, _ = mixed
  assert len(ref["crowd60_480x640"]) >= 55 and len(ref["crowd50_416x560"]) >= 45  # real crowds
  for name in ref:
    assert_same_faces(ref[name], ours[name], name)
  assert overflow == [False] * len(ref)


def test_a_crowd_gives_the_same_faces_beside_other_batch_mates(mixed, mtcnn_params):
  images, _, ours, _, fd = mixed
  pair = [images["crowd60_480x640"], images["crowd50_416x560"]]   # 2 crowds: other pools, same canvas
  faces = fd(pair)
  for name, got in zip(("crowd60_480x640", "crowd50_416x560"), faces):
    a = np.array([f.box for f in got])
    b = np.array([f.box for f in ours[name]])
    np.testing.assert_allclose(a, b, atol=1e-3)


def test_fixed_caps_flag_overflow_instead_of_dropping_silently(mtcnn_params, mixed):
  images, ref, ours, _, _ = mixed
  canvas = np.zeros((2, 512, 640, 3), np.float32)    # FaceDetector's shapes for 2 images: no new compile
  canvas[0, :480, :640] = images["crowd60_480x640"]
  canvas[1, :320, :320] = images["astronaut_320"]
  sizes = np.array([[480, 640], [320, 320]])
  det = cascade.detect(mtcnn_params, canvas, sizes, grow=False)    # one program, default caps
  f = cascade.CascadeConfig().max_faces
  assert det.valid.shape == (2, f)
  np.testing.assert_array_equal(np.asarray(det.overflow), [True, False])
  assert 0 < int(det.valid[0].sum()) <= f and int(det.valid[1].sum()) == 1   # capped, and says so
  grown = cascade.detect(mtcnn_params, canvas, sizes)             # re-runs only the crowd, larger caps
  assert not np.asarray(grown.overflow).any() and grown.valid.shape[1] > f
  assert int(grown.valid[0].sum()) == len(ref["crowd60_480x640"]) and int(grown.valid[1].sum()) == 1
  np.testing.assert_allclose(np.asarray(grown.boxes[1, 0]), ours["astronaut_320"][0].box, atol=1e-3)


def test_max_faces_limit_caps_and_warns(mtcnn_params, mixed):
  images, _, _, _, _ = mixed
  fd = FaceDetector(params=mtcnn_params, batch_size=2, max_faces_limit=16)
  with pytest.warns(UserWarning, match=r"images \[0\]: more faces than max_faces_limit=16"):
    faces = fd([images["crowd60_480x640"], images["astronaut_320"]])
  assert 10 <= len(faces[0]) <= 16 and len(faces[1]) == 1
  _, over = fd.detect_with_overflow([images["crowd60_480x640"], images["astronaut_320"]])
  assert over == [True, False]


def test_batches_pad_to_powers_of_two():
  assert [detector.padded_batch(n, 8) for n in (1, 2, 3, 5, 8)] == [1, 2, 4, 8, 8]
  assert detector.padded_batch(5, 6) == 6


def test_default_pools_hold_every_candidate_so_busy_batches_run_once(mtcnn_params):
  # Four 12-face crowds: more R-Net survivors (O-Net candidates) than the old 8 crops per
  # image, fewer than every cap. One pass (grow=False) must overflow nowhere and give each
  # image's faces alone; the old short O-Net pool flags them (they would re-run).
  images = np.stack([samples.crowd(s, (240, 320), 12, face_sizes=(28, 32, 36))[0] for s in range(4)])
  det = cascade.detect(mtcnn_params, images, grow=False)
  assert not np.asarray(det.overflow).any()
  counts = np.asarray(det.valid).sum(1)
  assert (counts >= 10).all(), counts
  for k in range(4):
    alone = cascade.detect(mtcnn_params, images[k:k + 1], grow=False)
    np.testing.assert_allclose(np.asarray(det.boxes[k])[np.asarray(det.valid[k])],
                               np.asarray(alone.boxes[0])[np.asarray(alone.valid[0])], atol=1e-3)
  short = cascade.detect(mtcnn_params, images, grow=False, onet_pool_per_image=8)
  assert np.asarray(short.overflow).any()


def test_a_stage_that_grows_grows_the_next_pool():
  cfg = cascade.CascadeConfig().resolved(480, 640)
  grown = cfg.grown([True, False, False])
  assert (grown.max_rnet, grown.rnet_pool_per_image) == (4 * cfg.max_rnet, 4 * cfg.rnet_pool_per_image)
  grown = cfg.grown([False, True, False])
  assert (grown.max_onet, grown.onet_pool_per_image) == (4 * cfg.max_onet, 4 * cfg.onet_pool_per_image)
  assert cfg.rnet_pool_per_image == cfg.max_rnet and cfg.onet_pool_per_image == cfg.max_onet
