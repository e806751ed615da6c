"""The official WIDER FACE protocol against a hand-computed case, the .mat layout and errors."""

from __future__ import annotations

import os

import numpy as np
import pytest

from jaxvis.errors import InputError
from jaxvis.faces import wider_eval

# Image A: three faces in a row; image B: one face. Subsets (1-based, as gt_list): easy counts
# A's first two and B's, medium all of A and none of B, hard everything.
EVENTS = {"0--Parade": {"a": np.array([[0, 0, 10, 10], [20, 0, 10, 10], [40, 0, 10, 10]], float)},
          "1--Handshaking": {"b": np.array([[0, 0, 20, 20]], float)}}
SUBSETS = {"easy": {"a": [1, 2], "b": [1]}, "medium": {"a": [1, 2, 3], "b": []},
           "hard": {"a": [1, 2, 3], "b": [1]}}
# Raw scores 0.9 .. 0.5 normalise to 1, 0.75, 0.5, 0.25 (image a) and 0 (image b).
PREDICTIONS = {"a": np.array([[0, 0, 10, 10, 0.9], [40, 0, 10, 10, 0.8], [100, 100, 10, 10, 0.7],
                              [20, 0, 10, 10, 0.6]]),
               "b": np.array([[0, 0, 20, 20, 0.5]])}


@pytest.fixture()
def gt_dir(tmp_path):
  wider_eval.write_ground_truth(str(tmp_path), EVENTS, SUBSETS)
  return str(tmp_path)


def test_hand_computed_ap_per_subset(gt_dir):
  gt = wider_eval.read_ground_truth(gt_dir)
  assert gt.images == ("a", "b") and gt.events == ("0--Parade", "1--Handshaking")
  r = wider_eval.evaluate(gt, PREDICTIONS)
  # hard: PR points (1, 1/4) (1, 1/2) (2/3, 1/2) (3/4, 3/4) (4/5, 1): AP = .25 + .25 + .2 + .2
  assert r["hard"].ap == pytest.approx(0.9, abs=1e-6) and r["hard"].faces == 4
  # easy: the detection on A's third face is ignored (neither TP nor FP):
  # (1, 1/3) (1/2, 1/3) (2/3, 2/3) (3/4, 1): AP = 1/3 + 1/3 * .75 + 1/3 * .75
  assert r["easy"].ap == pytest.approx(1 / 3 + 0.25 + 0.25, abs=1e-6) and r["easy"].faces == 3
  # medium: B's face is ignored, so its detection does not count at the last threshold
  assert r["medium"].ap == pytest.approx(1 / 3 + 1 / 3 + 0.25, abs=1e-6) and r["medium"].faces == 3
  assert r["hard"].precision[-1] == pytest.approx(0.8) and r["hard"].recall[-1] == pytest.approx(1.0)


def test_missed_images_still_count_their_faces(gt_dir):
  gt = wider_eval.read_ground_truth(gt_dir)
  r = wider_eval.evaluate(gt, {"a": PREDICTIONS["a"]})
  assert r["hard"].faces == 4 and r["hard"].recall[-1] == pytest.approx(3 / 4)
  assert wider_eval.evaluate(gt, {})["easy"].ap == 0.0


def test_inclusive_pixel_iou_rule():
  # x2 = x + w and +1 areas: two 10-wide boxes offset by 5 share 6 columns of 11.
  iou = wider_eval._iou_inclusive(np.array([[0.0, 0, 10, 10]]), np.array([[5.0, 0, 15, 10]]))
  assert iou[0, 0] == pytest.approx(66 / (121 + 121 - 66))


def test_prediction_folder_round_trip_and_errors(tmp_path):
  folder = tmp_path / "pred" / "0--Parade"
  folder.mkdir(parents=True)
  (folder / "a.txt").write_text("a\n2\n1 2 3 4 0.9\n5 6 7 8 0.1\n")
  preds = wider_eval.read_predictions(str(tmp_path / "pred"))
  np.testing.assert_array_equal(preds["a"], [[1, 2, 3, 4, 0.9], [5, 6, 7, 8, 0.1]])
  (folder / "a.txt").write_text("a\n2\n1 2 3 4 nan\n5 6 7 8 0.1\n")
  with pytest.raises(InputError, match=r"a.txt:3: expected 'x y w h score'"):
    wider_eval.read_predictions(str(tmp_path / "pred"))
  (folder / "a.txt").write_text("a\nmany\n")
  with pytest.raises(InputError, match=r"a.txt:2"):
    wider_eval.read_predictions(str(tmp_path / "pred"))


def test_ground_truth_errors(tmp_path, gt_dir):
  with pytest.raises(InputError, match="wider_face_val.mat: does not exist"):
    wider_eval.read_ground_truth(str(tmp_path / "nowhere"))
  (tmp_path / "bad").mkdir()
  (tmp_path / "bad" / "wider_face_val.mat").write_bytes(b"MATLAB? no")
  with pytest.raises(InputError, match="not a readable MATLAB"):
    wider_eval.read_ground_truth(str(tmp_path / "bad"))
  bad_subsets = dict(SUBSETS, hard={"a": [1, 2, 9], "b": [1]})
  wider_eval.write_ground_truth(gt_dir, EVENTS, bad_subsets)
  with pytest.raises(InputError, match=r"wider_hard_val.mat: 0--Parade/a: face index out of 1..3"):
    wider_eval.read_ground_truth(gt_dir)


def test_pr_curves_png(tmp_path, gt_dir):
  r = wider_eval.evaluate(wider_eval.read_ground_truth(gt_dir), PREDICTIONS)
  wider_eval.plot_pr_curves(r, str(tmp_path / "pr.png"))
  assert os.path.getsize(tmp_path / "pr.png") > 5000


def test_cli_official_protocol_on_a_generated_validation_tree(tmp_path, capsys):
  import json

  from jaxvis import cli
  from jaxvis.faces import fixtures, wider
  ann = fixtures.write_wider(str(tmp_path), n_images=3, seed=4, split="val", shape=(128, 160),
                             n_faces=2)
  events, subsets = {}, {"easy": {}, "medium": {}, "hard": {}}
  for r in wider.read_bbx_gt(ann):
    event, file = r.name.split("/")
    stem = file[:-4]
    xywh = np.concatenate([r.boxes[:, :2], r.boxes[:, 2:] - r.boxes[:, :2] + 1], axis=1)
    events.setdefault(event, {})[stem] = xywh
    subsets["hard"][stem] = subsets["medium"][stem] = list(range(1, len(xywh) + 1))
    subsets["easy"][stem] = [1] if len(xywh) else []
  gt_dir = tmp_path / "eval_tools"
  gt_dir.mkdir()
  wider_eval.write_ground_truth(str(gt_dir), events, subsets)
  png = tmp_path / "pr.png"
  assert cli.main(["faces", "evaluate", "--wider-protocol", str(gt_dir), "--pr-curves", str(png),
                   "--batch-size", "2"]) == 0
  out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["wider_protocol"]
  assert out["images"] == 3 and out["unreadable"] == 0
  assert out["faces"] == {"easy": 2, "medium": 4, "hard": 4}
  assert out["ap"]["hard"] >= 0.75            # the pretrained cascade finds the pasted faces
  assert png.stat().st_size > 5000
  # The same predictions scored by the library give the CLI's numbers.
  from jaxvis.faces import FaceDetector
  gt = wider_eval.read_ground_truth(str(gt_dir))
  preds, _, _ = wider_eval.detect_predictions(FaceDetector(), gt, str(tmp_path / "WIDER_val" / "images"))
  again = wider_eval.evaluate(gt, preds)
  assert {s: round(r.ap, 6) for s, r in again.items()} == out["ap"]
  assert cli.main(["faces", "evaluate", "--wider-protocol", str(tmp_path / "nowhere")]) == 2
