"""`experiments/adjectives_vso.py --tiny`: the Table 3 protocol on a generated VSO folder."""

from __future__ import annotations

import json
import os

import pytest

from jaxvis.adjectives import data



@pytest.fixture(scope="module")
def vso(load_script):
  return load_script("adjectives_vso")


def test_tiny_folder_is_in_the_published_vso_layout(vso, tmp_path):
  root = vso.write_tiny_vso(str(tmp_path / "Images_with_CC"))
  folder = tmp_path / "Images_with_CC" / "bi_concepts1553"
  assert sorted(os.listdir(folder)) == sorted(vso.TINY_ANPS)
  files = os.listdir(folder / "happy_dog")
  assert len(files) == 30 and all(f.endswith(".jpg") and f[:-4].isdigit() for f in files)
  anps = data.read_vso(root)      # the archive's top folder, or bi_concepts1553 itself
  assert {k: len(v) for k, v in anps.items()} == {k: n for k, (n, _, _) in vso.TINY_ANPS.items()}
  assert data.read_vso(str(folder)).keys() == anps.keys()


def test_tiny_protocol_runs_end_to_end_and_excludes_close_adjectives(vso, tmp_path):
  # Zero training steps keep the test fast: the three auto-encoders are then one set of
  # initial weights (identical figures); the trivial baseline must find the warm cast.
  out = tmp_path / "vso.json"
  assert vso.main(["--tiny", "--steps", "0", "--queries", "happy dog", "--readout", "top",
                   "pooled", "--cluster-counts", "2", "3", "--json", str(out)]) == 0
  result = json.loads(out.read_text())
  assert result["source"]["tiny"] and result["exclude_adjectives"] == ["excited"]
  (run,) = result["runs"]
  assert run["problem"] == {"m": 24, "size": 28} and run["seed"] == 0
  (row,) = run["queries"]
  # excited_dog (12 warm images) is excluded: 30 relevant, 22 + 22 irrelevant.
  assert row["available"] == {"relevant": 30, "irrelevant": 44}
  assert row["pseudo_relevant_precision"] == pytest.approx(19 / 24)      # Table 1: 0.785
  assert row["pairs"]["count"] == 24
  for readout in ("top", "pooled"):
    block = row["readouts"][readout]
    assert set(block) == {"trivial", "untrained_scae", "plain_scae", "pairwise_scae"}
    assert set(block["trivial"]) == {"2", "3"}
    accs = [block[m]["2"]["accuracy"] for m in ("untrained_scae", "plain_scae", "pairwise_scae")]
    assert accs[0] == accs[1] == accs[2]
    assert 1 <= block["pairwise_scae"]["3"]["kept_pairs"] <= 24
  assert row["trivial_accuracy"] > row["pseudo_relevant_precision"]
  assert row["trivial_accuracy"] == row["readouts"]["pooled"]["trivial"]["2"]["accuracy"]


@pytest.mark.parametrize("flags, message", [
    (["--queries", "happy cat"], "--queries"), (["--m", "0"], "--m"),
    (["--cluster-counts", "1"], "--cluster-counts")])
def test_bad_flags_are_named(vso, tmp_path, capsys, flags, message):
  with pytest.raises(SystemExit):
    vso.main(["--tiny", "--json", str(tmp_path / "x.json")] + flags)
  assert message in capsys.readouterr().err


def test_mvso_csv_needs_an_image_folder(vso, tmp_path, capsys):
  csv = tmp_path / "english.csv"
  csv.write_text("ANP,image_url\nhappy_dog,https://farm1.staticflickr.com/1/123_abc.jpg\n")
  with pytest.raises(SystemExit):
    vso.main(["--mvso-csv", str(csv), "--json", str(tmp_path / "x.json")])
  assert "--image-dir" in capsys.readouterr().err
