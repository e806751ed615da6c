"""Streamed mining (grain): exact resumption, flip geometry, uncapped proposals, LR schedules, bf16."""

import json
import os

import jax
import numpy as np
import pytest

from jaxvis.errors import InputError
from jaxvis.faces import celeba, fixtures, mining, proposals, sample_stream, samples, training, training_data, wider


@pytest.fixture(scope="module")
def trees(tmp_path_factory, mtcnn_params):
  root = tmp_path_factory.mktemp("stream")
  fixtures.lfw_landmarks(mtcnn_params["onet"])
  ann = fixtures.write_wider(str(root / "wider"), n_images=4, seed=3, shape=(128, 160), n_faces=2)
  croot = fixtures.write_celeba(str(root / "celeba"), n_images=3, seed=3, shape=(96, 96), face_sizes=(56,))
  return wider.read_bbx_gt(ann), celeba.read_celeba(croot)


def _take(it, n):
  return [next(it) for _ in range(n)]


def test_stream_resumes_exactly_from_saved_state(trees):
  w, c = trees
  cfg = training_data.MiningConfig("pnet", negatives=10, around=5, flip=True)
  it = sample_stream.sample_stream(w + c, cfg, batch_size=16, seed=4, shuffle_window=40)
  first = _take(it, 7)  # crosses windows and epochs (about 70 samples per epoch)
  state = it.get_state()
  after = _take(it, 5)
  again = sample_stream.sample_stream(w + c, cfg, batch_size=16, seed=4, shuffle_window=40)
  again.set_state(state)
  for a, b in zip(after, _take(again, 5)):
    for k in a:
      np.testing.assert_array_equal(a[k], b[k])
  labels = np.concatenate([b["label"] for b in first])
  assert {1, 0, -1, -2} <= set(labels.tolist())  # WIDER and CelebA samples are mixed
  assert first[0]["image"].shape == (16, 12, 12, 3) and first[0]["image"].dtype == np.uint8


def test_one_epoch_streams_every_sample_of_every_record_once(trees):
  """No cap: an epoch yields all of each image's samples (here 1 + per_face per CelebA face)."""
  _, c = trees
  cfg = training_data.MiningConfig("rnet", per_face=3)
  it = sample_stream.sample_stream(c, cfg, batch_size=1, seed=0, shuffle_window=5, num_epochs=1)
  got = [b for b in it]
  assert len(got) == len(c) * 4
  assert all(b["label"][0] == mining.LANDMARK for b in got)
  # the face box itself (zero box offsets) opens each record's samples
  assert sum(np.allclose(b["box"][0], 0, atol=1e-6) for b in got) >= len(c)


def test_mirror_maps_pixels_boxes_and_swaps_left_right_points():
  rng = np.random.default_rng(0)
  image = rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)
  box = np.array([[3, 2, 10, 12]], np.float32)
  marks = np.array([[[4, 5], [9, 5], [6, 8], [5, 11], [9, 11]]], np.float32)
  img2, box2, marks2 = training_data.mirror(image, box, marks)
  np.testing.assert_array_equal(img2[:, 29 - 4], image[:, 4])
  np.testing.assert_array_equal(box2, [[19, 2, 26, 12]])
  # the image-left eye stays first: after mirroring it is the old right eye
  np.testing.assert_array_equal(marks2[0], [[20, 5], [25, 5], [23, 8], [20, 11], [24, 11]])
  x1, y1, x2, y2 = box[0].astype(int)
  X1, _, X2, _ = box2[0].astype(int)
  np.testing.assert_array_equal(img2[y1:y2 + 1, X1:X2 + 1], image[y1:y2 + 1, x1:x2 + 1][:, ::-1])


def test_flipped_landmark_samples_decode_to_the_mirrored_points(trees):
  _, c = trees
  rec = c[0]
  cfg = training_data.MiningConfig("onet", per_face=3, flip=True)
  for seed in range(6):  # both coin outcomes occur
    s = training_data.mine_celeba(rec, cfg, np.random.default_rng(seed))
    box = s.boxes[0]  # the first sample is the face box itself: zero offsets
    np.testing.assert_allclose(box, 0, atol=1e-6)
    w = rec.box[2] - rec.box[0] + 1
    xs = s.landmarks[0, :5] * w + rec.box[0] - 1  # landmark decode of the face-box crop
    image = training_data.load_image(rec.path)
    flipped = not np.allclose(xs, rec.landmarks[:, 0], atol=1e-3)
    if flipped:
      mb = training_data.mirror(image, rec.box)[1]
      xs = s.landmarks[0, :5] * w + mb[0] - 1
      expect = training_data.mirror(image, None, rec.landmarks)[1][:, 0]
      np.testing.assert_allclose(xs, expect, atol=1e-3)


def test_proposals_grow_their_caps_instead_of_cutting(mtcnn_params):
  image, _ = samples.crowd(1, shape=(240, 320), n_faces=20, face_sizes=(24, 32))
  params = {k: mtcnn_params[k] for k in ("pnet", "rnet")}
  full, over = proposals.propose_with_overflow(params, [image], "onet")
  tiny, over_tiny = proposals.propose_with_overflow(params, [image], "onet", max_pnet=8, max_rnet=4,
                                                    rnet_pool_per_image=2)
  assert over == [False] and over_tiny == [False]
  assert len(full[0]) > 20
  np.testing.assert_allclose(np.sort(tiny[0], 0), np.sort(full[0], 0), atol=1e-3)
  with pytest.warns(UserWarning, match="P-Net cells"):
    _, cut = proposals.propose_with_overflow(params, [image], "rnet", max_pnet=8, max_rnet=4,
                                             max_pnet_limit=16)
  assert cut == [True]


def test_learning_rate_schedules():
  pw = training.learning_rate_schedule(1e-3, "piecewise", 22)
  assert float(pw(0)) == pytest.approx(1e-3)
  assert float(pw(7)) == pytest.approx(1e-4)
  assert float(pw(15)) == pytest.approx(1e-5)
  assert float(pw(21)) == pytest.approx(1e-6)
  cos = training.learning_rate_schedule(1e-3, "cosine", 10)
  assert float(cos(0)) == pytest.approx(1e-3) and float(cos(10)) == pytest.approx(0.0, abs=1e-9)
  assert float(training.learning_rate_schedule(1e-3, "constant", 10)(9)) == pytest.approx(1e-3)
  with pytest.raises(InputError, match="lr_schedule"):
    training.TrainConfig(lr_schedule="linear")


def test_stream_errors_name_their_argument(trees):
  w, c = trees
  with pytest.raises(InputError, match="records"):
    sample_stream.sample_stream([], training_data.MiningConfig("pnet"), 8)
  with pytest.raises(InputError, match="L-Net"):
    next(sample_stream.sample_stream(w, training_data.MiningConfig("lnet"), 8))
  lnet = next(sample_stream.sample_stream(c, training_data.MiningConfig("lnet", per_face=2), 4, shuffle_window=4))
  assert lnet["patches"].shape == (4, 5, 24, 24, 3) and lnet["target"].shape == (4, 5, 2)
  assert mining.STAGE_SIZES["rnet"] == 24


def test_bfloat16_training_from_the_stream_keeps_float32_parameters_and_learns(trees, tmp_path):
  w, c = trees
  cfg = training_data.MiningConfig("pnet", negatives=10, around=5, flip=True)
  stream = sample_stream.sample_stream(w + c, cfg, batch_size=32, seed=2, shuffle_window=64)
  tc = training.TrainConfig(stage="pnet", steps=12, batch_size=32, learning_rate=3e-3, dtype="bfloat16",
                            lr_schedule="cosine")
  params = training.train_stage(tc, batches=stream, workdir=str(tmp_path))
  leaves = [np.asarray(x) for x in jax.tree_util.tree_leaves(params)]
  assert all(x.dtype == np.float32 and np.isfinite(x).all() for x in leaves)
  losses = [json.loads(l)["loss"] for l in open(os.path.join(str(tmp_path), "metrics.jsonl")) if '"loss"' in l]
  assert len(losses) >= 2 and np.isfinite(losses).all()
  assert np.mean(losses[-3:]) < losses[0]  # bf16 compute still learns
