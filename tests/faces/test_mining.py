"""Sample mining: IoU labels, targets that the cascade decodes back, hard examples from P-Net."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxvis.faces import cascade, fixtures, mining, proposals
from jaxvis.ops import boxes as box_ops


def test_label_thresholds():
  iou = np.array([0.9, 0.66, 0.65, 0.4, 0.39, 0.3, 0.29, 0.0])
  np.testing.assert_array_equal(mining.label_by_iou(iou), [1, 1, -1, -1, -3, -3, 0, 0])


def test_box_and_landmark_targets_decode_back_through_the_cascade_rules():
  crops = np.array([[10., 20., 33., 43.], [0., 0., 47., 47.]])
  faces = np.array([[12., 18., 35., 40.], [5., 3., 40., 44.]])
  t = mining.box_targets(crops, faces)
  np.testing.assert_allclose(box_ops.regress(jnp.asarray(crops), jnp.asarray(t), offset=1.0), faces, atol=1e-4)
  lm = np.array([[[15., 25.], [28., 25.], [21., 31.], [16., 38.], [27., 38.]]] * 2)
  marks = mining.landmark_targets(crops, lm).reshape(-1, 2, 5)
  w = (crops[:, 2] - crops[:, 0] + 1)[:, None]   # cascade.onet_stage's decoding
  h = (crops[:, 3] - crops[:, 1] + 1)[:, None]
  back = np.stack([w * marks[:, 0] + crops[:, 0, None] - 1, h * marks[:, 1] + crops[:, 1, None] - 1], -1)
  np.testing.assert_allclose(back, lm, atol=1e-4)


def test_mine_random_labels_match_iou_of_the_crops(mtcnn_params):
  fixtures.lfw_landmarks(mtcnn_params["onet"])
  image, faces, _ = fixtures.scene(5, (160, 200), 2, (48, 64))
  s = mining.mine_random(image, faces, 24, np.random.default_rng(0), negatives=30, around=20)
  c = s.counts()
  assert c["positive"] > 5 and c["part"] > 5 and c["negative"] > 20 and c["landmark"] == 0
  assert s.images.shape[1:] == (24, 24, 3) and s.images.dtype == np.uint8
  pos = s.labels == 1
  # positives are near-centred: |targets| stay within what IoU > 0.65 allows
  assert np.abs(s.boxes[pos]).max() < 0.5
  assert (s.boxes[s.labels == 0] == 0).all()
  # a positive crop holds the pasted face: it differs from the negatives' statistics little, but
  # decoding its targets onto the crop must land on one true face with IoU > 0.65 (checked on the geometry)
  crops = np.array([[0, 0, 23, 23]], np.float32)
  for t in s.boxes[pos][:5]:
    face_in_crop = np.asarray(box_ops.regress(jnp.asarray(crops), jnp.asarray(t[None]), offset=1.0))
    assert mining.iou_matrix(crops, face_in_crop)[0, 0] > 0.65 - 0.05   # rounding of the crop side
  with pytest.raises(ValueError, match="image"):
    mining.mine_random(image[..., 0], faces, 24, np.random.default_rng(0))


def test_lnet_targets_are_what_the_lnet_stage_needs():
  """An L-Net that outputs exactly the mined targets makes cascade.lnet_stage land on the truth."""
  image = np.zeros((64, 64, 3), np.uint8)
  box = np.array([10., 10., 49., 49.])
  truth = np.array([[20.3, 21.], [39., 19.6], [30., 30.], [22., 40.4], [38., 41.]], np.float32)
  patches, targets = mining.mine_lnet(image, box, truth, np.random.default_rng(0), count=3, jitter=0.15)
  assert patches.shape == (3, 5, 24, 24, 3) and targets.shape == (3, 5, 2)
  pw, _ = mining.lnet_patch_geometry(box, truth)
  assert pw == 10
  x = jnp.zeros((1, 5, 24, 24, 3))
  shapes = jax.eval_shape(cascade.nets.LNet().init, jax.random.key(0), x)["params"]
  stage = jax.jit(lambda p, m: cascade.lnet_stage(
      p, jnp.zeros((1, 64, 64, 3)), jnp.array([[64, 64]]), jnp.array([0]), jnp.asarray(box[None]), m,
      jnp.array([True]), cascade.CascadeConfig(use_lnet=True)))
  for i in range(3):
    params = jax.tree_util.tree_map(lambda s: np.zeros(s.shape, np.float32), shapes)
    for k in range(5):
      params[f"fc6_{k}"]["bias"] = targets[i, k]
    # the stage sees the jittered landmarks the patches were cut around
    noisy = truth - targets[i] * pw + pw / 2
    out = stage(params, jnp.asarray(noisy[None]))
    np.testing.assert_allclose(np.asarray(out)[0], truth, atol=1e-3)


def test_label_proposals_and_pnet_hard_examples(mtcnn_params):
  fixtures.lfw_landmarks(mtcnn_params["onet"])
  image, faces, _ = fixtures.scene(11, (128, 128), 1, (56,))
  (props,) = proposals.propose({"pnet": mtcnn_params["pnet"]}, [image], "rnet", min_face_size=40,
                               max_pnet=256, max_rnet=32)
  assert len(props) > 0
  s = mining.label_proposals(image, props, faces, 24)
  iou = mining.iou_matrix(np.round(props), faces).max(1)
  expect = mining.label_by_iou(iou)
  np.testing.assert_array_equal(np.sort(s.labels), np.sort(expect[expect != -3]))
  assert s.counts()["positive"] >= 1                      # the pretrained P-Net finds the face
  with pytest.raises(ValueError, match="params: mining onet samples needs the trained rnet"):
    proposals.propose({"pnet": mtcnn_params["pnet"]}, [image], "onet")
  with pytest.raises(ValueError, match="stage"):
    proposals.propose({}, [image], "pnet")
