"""AP at IoU 0.5 (VOC all-point), landmark NME, and `jaxvis faces evaluate` on fixture files."""

import json

import numpy as np
import pytest

from jaxvis.faces import evaluate


def test_average_precision_by_hand():
  faces = [np.array([[0, 0, 9, 9], [20, 20, 29, 29]]), np.array([[0, 0, 9, 9]])]
  dets = [(np.array([[0, 0, 9, 9], [0, 0, 9, 9], [50, 50, 59, 59]]), np.array([0.9, 0.8, 0.7])),
          (np.array([[1, 0, 10, 9]]), np.array([0.6]))]
  # sorted: TP (0.9), FP duplicate (0.8), FP (0.7), TP (0.6, IoU 0.82); 3 faces
  # precision 1, .5, .33, .5 at recall 1/3, 1/3, 1/3, 2/3 -> AP = 1/3 * 1 + 1/3 * 0.5
  r = evaluate.average_precision(dets, faces)
  np.testing.assert_allclose(r["ap"], 0.5, rtol=1e-6)
  np.testing.assert_allclose(r["recall"], 2 / 3)
  assert r["num_faces"] == 3 and r["num_detections"] == 4
  # an ignored face: the detection on it counts neither way, and the face leaves the denominator
  r = evaluate.average_precision(dets, faces, ignore=[np.array([False, True]), np.array([False])])
  assert r["num_faces"] == 2
  perfect = evaluate.average_precision([(f, np.ones(len(f))) for f in faces], faces)
  assert perfect["ap"] == 1.0
  with pytest.raises(ValueError, match="detections"):
    evaluate.average_precision(dets[:1], faces)


def test_nme_interocular_and_box():
  true = np.array([[[10., 10.], [30., 10.], [20., 20.], [12., 30.], [28., 30.]]])
  pred = true + np.array([2.0, 0.0])
  np.testing.assert_allclose(evaluate.landmark_nme(pred, true), [2.0 / 20.0])
  np.testing.assert_allclose(evaluate.landmark_nme(pred, true, np.array([[0, 0, 39, 39]]), "box"), [2.0 / 40.0])
  with pytest.raises(ValueError, match="normalize"):
    evaluate.landmark_nme(pred, true, normalize="pupil")


def test_cli_evaluate_pretrained_on_fixture_files(tmp_path, mtcnn_params, capsys):
  from jaxvis import cli
  from jaxvis.faces import fixtures
  fixtures.lfw_landmarks(mtcnn_params["onet"])
  ann = fixtures.write_wider(str(tmp_path / "wider"), n_images=3, seed=4, shape=(128, 160), n_faces=2,
                             face_sizes=(48, 56))
  root = fixtures.write_celeba(str(tmp_path / "celeba"), n_images=2, seed=4, shape=(128, 160), face_sizes=(64,))
  rc = cli.main(["faces", "evaluate", "--wider", ann, "--celeba", root, "--batch-size", "5"])
  assert rc == 0
  out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
  assert out["wider"]["num_faces"] == 4
  assert out["wider"]["ap"] >= 0.75                       # the pretrained cascade finds the pasted faces
  assert out["celeba"]["faces_matched"] >= 1
  assert out["celeba"]["nme"] < 0.2                       # against the pseudo ground truth of the fixture
  # both normalisations; the box side (~2.5x the eye distance here) gives the smaller figure
  assert out["celeba"]["nme_interocular"] == out["celeba"]["nme"]
  assert 0 < out["celeba"]["nme_box"] < out["celeba"]["nme_interocular"]
  assert cli.main(["faces", "evaluate"]) == 2
  assert "--wider/--celeba" in capsys.readouterr().err
  assert cli.main(["faces", "evaluate", "--wider", ann, "--lnet", "pretrained"]) == 2
  assert "no pretrained L-Net" in capsys.readouterr().err


def test_detection_is_streamed_a_chunk_at_a_time(tmp_path, mtcnn_params):
  from jaxvis.faces import FaceDetector, evaluate, fixtures, wider
  ann = fixtures.write_wider(str(tmp_path / "wider"), n_images=5, seed=4, shape=(96, 128), n_faces=1,
                             face_sizes=(48,))
  paths = [r.path for r in wider.read_bbx_gt(ann)]
  loaded = []

  def load(path):
    loaded.append(path)
    from jaxvis.faces.training_data import load_image
    return load_image(path)

  fd = FaceDetector(params=mtcnn_params, batch_size=2)
  stream = evaluate.detect_streamed(fd, paths, load)
  first = next(stream)
  assert len(loaded) == 2  # only the first chunk was decoded
  rest = list(stream)
  assert len(loaded) == 5 and len(rest) == 4
  whole = fd.detect([load(p) for p in paths])
  assert [len(f) for f, _ in [first] + rest] == [len(f) for f in whole]
