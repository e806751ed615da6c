"""experiments/faces_wider.py at tiny scale: all four stages train from the streamed files, then
the official protocol scores the trained cascade beside the pretrained one and the centre box."""

import json
import os

import pytest

@pytest.mark.slow
def test_tiny_run_trains_every_stage_then_evaluates_and_resumes(tmp_path, capsys, load_script):
  exp = load_script("faces_wider")
  wd, out = str(tmp_path / "run"), str(tmp_path / "result.json")
  argv = ["--tiny", "--images", "10", "--celeba-images", "4", "--steps", "2", "--batch-size", "16", "--eval-batch-size", "2",
          "--shuffle-window", "32", "--workdir", wd, "--json", out]
  assert exp.main(argv) == 0
  result = json.load(open(out))
  stages = {row["stage"]: row for row in result["stages"]}
  assert list(stages) == ["pnet", "rnet", "onet", "lnet"]
  for stage in ("pnet", "rnet", "onet", "lnet"):
    assert sum(stages[stage]["samples"].values()) == 2 * 16  # steps x batch, every sample counted
    assert os.path.isfile(os.path.join(wd, stage, f"{stage}.msgpack"))
  assert stages["pnet"]["samples"]["negative"] > 0 and stages["lnet"]["samples"]["landmark"] == 32
  # published layouts on disk
  data = os.path.join(wd, "data")
  for path in ("wider/wider_face_split/wider_face_train_bbx_gt.txt", "wider/eval_tools/wider_hard_val.mat",
               "wider/WIDER_val/images", "celeba/Anno/list_landmarks_celeba.txt", "celeba/img_celeba"):
    assert os.path.exists(os.path.join(data, path)), path
  ev = result["evaluation"]
  assert ev["val_images"] == 2 and ev["faces"]["hard"] >= ev["faces"]["easy"]
  # the shipped cascade finds the pasted faces; the trivial centre box does not
  assert ev["pretrained_mtcnn"]["wider_ap"]["hard"] > 0.5
  assert ev["centre_box"]["wider_ap"]["hard"] < ev["pretrained_mtcnn"]["wider_ap"]["hard"]
  assert set(ev["trained"]["wider_ap"]) == {"easy", "medium", "hard"}
  # a second run reuses every finished stage
  assert exp.main(argv) == 0
  again = json.load(open(out))
  assert all("reused" in row for row in again["stages"])
  assert again["evaluation"]["trained"] == ev["trained"]
  capsys.readouterr()
  with pytest.raises(SystemExit) as stop:  # neither the datasets nor --tiny
    exp.main(["--workdir", wd, "--json", out])
  assert stop.value.code == 2 and "--wider-root" in capsys.readouterr().err
