"""Training through jaxvis.train.fit: real-data R-Net check, exact resumption, `faces train`."""

import json
import os

import jax
import numpy as np
import pytest

from jaxvis.faces import mining, training


def _lfw_arrays():
  from skimage import data
  imgs = (data.lfw_subset() * 255).round().astype(np.uint8)      # 100 faces then 100 non-faces
  x = np.stack([mining.crop_resize(np.repeat(im[..., None], 3, -1), (0, 0, 24, 24), 24) for im in imgs])
  labels = np.r_[np.ones(100), np.zeros(100)].astype(np.int32)
  perm = np.random.default_rng(0).permutation(200)
  def arrays(i):
    return {"image": x[i], "label": labels[i], "box": np.zeros((len(i), 4), np.float32),
            "landmark": np.zeros((len(i), 10), np.float32)}
  return arrays(perm[:140]), arrays(perm[140:])


def test_rnet_from_scratch_on_lfw_subset_reaches_90_percent_held_out():
  train_set, held_out = _lfw_arrays()
  assert 20 <= held_out["label"].sum() <= 40                       # both classes held out
  cfg = training.TrainConfig(stage="rnet", steps=60, batch_size=20, learning_rate=2e-3, seed=0)
  params = training.train_stage(cfg, train_set)
  m = training.evaluate_samples("rnet", params, held_out)
  assert m["acc"] >= 0.9, m


def _tiny_pnet_arrays(n=64):
  rng = np.random.default_rng(1)
  labels = rng.choice([1, 0, -1, -2], n).astype(np.int32)
  return {"image": rng.integers(0, 255, (n, 12, 12, 3)).astype(np.uint8), "label": labels,
          "box": rng.normal(0, 0.1, (n, 4)).astype(np.float32),
          "landmark": rng.uniform(0, 1, (n, 10)).astype(np.float32)}


def test_killed_run_resumes_exactly(tmp_path):
  # the lfw test's settings: the process reuses that compiled step
  arrays, _ = _lfw_arrays()
  # constant step size: the 2-step run's own schedule would differ from the 4-step one's
  cfg = dict(stage="rnet", batch_size=20, learning_rate=2e-3, seed=1, lr_schedule="constant")
  straight = training.train_stage(training.TrainConfig(steps=4, **cfg), arrays)
  wd = str(tmp_path / "run")
  training.train_stage(training.TrainConfig(steps=2, **cfg), arrays, workdir=wd, checkpoint_every=2)
  resumed = training.train_stage(training.TrainConfig(steps=4, **cfg), arrays, workdir=wd, checkpoint_every=2)
  for a, b in zip(jax.tree_util.tree_leaves(straight), jax.tree_util.tree_leaves(resumed)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
  steps = [json.loads(l)["step"] for l in open(os.path.join(wd, "metrics.jsonl"))]
  assert steps[-1] == 4
  path = str(tmp_path / "p.msgpack")
  training.save_params(path, resumed)
  back = training.load_params(path)
  np.testing.assert_array_equal(back["conv1"]["kernel"], resumed["conv1"]["kernel"])


def test_bad_training_inputs():
  with pytest.raises(ValueError, match="stage"):
    training.TrainConfig(stage="qnet")
  arrays = _tiny_pnet_arrays()
  with pytest.raises(ValueError, match="arrays: 'image' expected"):
    training.train_stage(training.TrainConfig(stage="rnet", steps=1), arrays)
  with pytest.raises(ValueError, match="missing"):
    training.train_stage(training.TrainConfig(stage="lnet", steps=1), arrays)
  with pytest.raises(ValueError, match="nonexistent.msgpack: does not exist"):
    training.load_params("/nonexistent.msgpack")


def test_cli_train_pnet_and_lnet_on_fixture_files(tmp_path, mtcnn_params, capsys):
  from jaxvis import cli
  from jaxvis.faces import fixtures
  fixtures.lfw_landmarks(mtcnn_params["onet"])
  ann = fixtures.write_wider(str(tmp_path / "wider"), n_images=2, seed=2, shape=(128, 160), n_faces=2)
  root = fixtures.write_celeba(str(tmp_path / "celeba"), n_images=2, seed=2, shape=(96, 96), face_sizes=(56,))
  wd = str(tmp_path / "p")
  rc = cli.main(["faces", "train", "--stage", "pnet", "--workdir", wd, "--wider", ann, "--celeba", root,
                 "--steps", "2", "--batch-size", "32", "--shuffle-window", "128"])
  assert rc == 0
  out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
  assert out["samples"]["positive"] > 0 and out["samples"]["negative"] > 0 and out["samples"]["landmark"] > 0
  p = training.load_params(out["params"])
  assert p["conv4_2"]["kernel"].shape == (1, 1, 32, 2)
  rc = cli.main(["faces", "train", "--stage", "lnet", "--workdir", str(tmp_path / "l"), "--steps", "1",
                 "--batch-size", "4", "--wider", ann])
  assert rc == 2 and "--celeba" in capsys.readouterr().err
  rc = cli.main(["faces", "train", "--stage", "rnet", "--workdir", str(tmp_path / "r"), "--steps", "1",
                 "--wider", ann])
  assert rc == 2 and "needs the trained pnet" in capsys.readouterr().err
