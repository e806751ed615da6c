"""User-study measures: quadrant agreement (Table 1) and rating measures (Table 2)."""

from __future__ import annotations

import json

import pytest

from jaxvis import cli
from jaxvis.music import evaluate


def _write(tmp_path, name, text):
  p = tmp_path / name
  p.write_text(text)
  return str(p)


def test_quadrant_agreement_per_quadrant_and_overall(tmp_path):
  # 2 images x 2 users; user points -> quadrants: img1: q1, q4; img2: q1, q1.
  users = _write(tmp_path, "u.csv", "image_id,user_id,valence,arousal\n"
                 "img1,u1,0.5,0.5\nimg1,u2,0.3,-0.2\nimg2,u1,0.1,0.9\nimg2,u2,0.0,0.0\n")
  system = _write(tmp_path, "s.csv", "image_id,method,quadrant\nimg1,A,1\nimg2,A,2\n"
                  "img1,B,4\nimg2,B,1\n")
  res = evaluate.evaluate_files(users, system)["quadrant_agreement"]
  a, b = res["A"], res["B"]
  assert a["pairs"] == 4 and a["images"] == 2
  assert a["per_quadrant"][1]["user_rate"] == pytest.approx(75.0)
  assert a["per_quadrant"][4]["user_rate"] == pytest.approx(25.0)
  assert a["per_quadrant"][1]["system_rate"] == pytest.approx(50.0)
  assert a["per_quadrant"][1]["agreement"] == pytest.approx(100 / 3)   # 1 of 3 q1 pairs
  assert a["per_quadrant"][4]["agreement"] == pytest.approx(0.0)
  assert a["per_quadrant"][2]["agreement"] is None                     # no user chose q2
  assert a["agreement"] == pytest.approx(25.0)
  assert b["agreement"] == pytest.approx(75.0)


def test_rating_measures_scores_and_failures(tmp_path):
  ratings = _write(tmp_path, "r.csv", "image_id,user_id,method,condition,rating,song_id\n"
                   # without narrowing: 2 songs each; pair means 4.5 and 2.0
                   "img1,u1,B,without,5,s1\nimg1,u1,B,without,4,s2\n"
                   "img1,u2,B,without,2,s1\nimg1,u2,B,without,2,s2\n"
                   # with narrowing: pair means 4 and 3
                   "img1,u1,B,with,4,s1\nimg1,u2,B,with,3,s1\n"
                   # user quadrant: one failure
                   "img1,u1,B,user,5,s3\nimg1,u2,B,user,,\n")
  res = evaluate.evaluate_files(ratings=ratings)["ratings"]["B"]
  assert res["without"] == pytest.approx({"pairs": 2, "share_score_ge_4": 50.0,
                                          "mean_score": 3.25, "failure_share": 0.0})
  assert res["with"]["mean_score"] == pytest.approx(3.5)
  assert res["user"]["failure_share"] == pytest.approx(50.0)
  assert res["user"]["share_score_ge_4"] == pytest.approx(100.0)


def test_bad_files_and_cli(tmp_path, capsys):
  bad = _write(tmp_path, "r.csv", "image_id,user_id,condition,rating\nimg1,u1,sometimes,3\n")
  with pytest.raises(ValueError, match="condition"):
    evaluate.evaluate_files(ratings=bad)
  missing = _write(tmp_path, "m.csv", "image_id,rating\n")
  with pytest.raises(ValueError, match="user_id"):
    evaluate.evaluate_files(ratings=missing)
  with pytest.raises(ValueError, match="both"):
    evaluate.evaluate_files(user_quadrants=missing)
  good = _write(tmp_path, "g.csv", "image_id,user_id,condition,rating\nimg1,u1,with,4\n")
  assert cli.main(["music", "evaluate", "--ratings", good, "--json"]) == 0
  out = json.loads(capsys.readouterr().out)
  assert out["ratings"]["system"]["with"]["mean_score"] == 4.0
  assert cli.main(["music", "evaluate", "--ratings", bad]) == 2


@pytest.mark.parametrize("name, body, line, problem", [
    ("u.csv", "image_id,user_id,valence,arousal\ni1,u1,0.5,0.5\ni1,u2,nan,0.1\n", 3, "finite"),
    ("u.csv", "image_id,user_id,quadrant\ni1,u1,2\ni1,u1,3\n", 3, "duplicate"),
    ("u.csv", "image_id,user_id,quadrant\ni1,u1,2.5\n", 2, "1, 2, 3 or 4"),
    ("r.csv", "image_id,user_id,condition,rating\ni1,u1,with,7\n", 2, "outside"),
])
def test_bad_study_rows_name_file_and_line(tmp_path, name, body, line, problem):
  from jaxvis.errors import InputError
  path = _write(tmp_path, name, body)
  sys_q = _write(tmp_path, "s.csv", "image_id,quadrant\ni1,1\n")
  kwargs = {"ratings": path} if name == "r.csv" else {"user_quadrants": path,
                                                       "system_quadrants": sys_q}
  with pytest.raises(InputError, match=problem) as e:
    evaluate.evaluate_files(**kwargs)
  assert e.value.where == f"{path}:{line}"


def test_system_quadrants_from_batch_json_lines(tmp_path):
  import json as _json
  lines = [{"image": "/x/img1.png", "method": "B", "quadrant": 1},
           {"image": "/x/img2.jpg", "method": "B", "quadrant": 3},
           {"image": "/x/img3.png", "error": "does not exist"}]
  batch = tmp_path / "results.jsonl"
  batch.write_text("\n".join(_json.dumps(r) for r in lines) + "\n")
  users = _write(tmp_path, "u.csv", "image_id,user_id,quadrant\nimg1,u1,1\nimg2,u1,1\n"
                                    "img2,u2,3\nimg3,u1,2\n")
  res = evaluate.evaluate_files(user_quadrants=users, system_quadrants=str(batch))
  agree = res["quadrant_agreement"]["B"]
  assert agree["pairs"] == 3 and agree["agreement"] == pytest.approx(200 / 3)
