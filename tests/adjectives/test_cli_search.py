"""End to end: `jaxvis adjectives rank` on image folders (tiny network, few steps)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from jaxvis import cli
from jaxvis.adjectives import controlled


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
  root = tmp_path_factory.mktemp("query")
  photos = controlled.load_photos(("astronaut", "coffee", "chelsea"))
  q = controlled.make_query("warm", 0.785, 0.18, 24, 28, seed=0, photos=photos)
  for name, images in (("P", q.P), ("Q", q.Q)):
    (root / name).mkdir()
    for i, img in enumerate(images):
      Image.fromarray((img * 255).round().astype(np.uint8)).save(root / name / f"{i:03d}.png")
  (root / "empty").mkdir()
  return root


def test_rank_writes_a_complete_ranking(folders, tmp_path):
  out = tmp_path / "ranking.json"
  rc = cli.main(["adjectives", "rank", "--relevant", str(folders / "P"), "--irrelevant",
                 str(folders / "Q"), "--json", str(out), "--tiny", "--size", "28",
                 "--steps", "1", "--query", "warm photo", "--workdir", str(tmp_path / "wd")])
  assert rc == 0
  result = json.loads(out.read_text())
  ranking = result["ranking"]
  assert result["query"] == "warm photo" and len(ranking) == 48
  assert sorted(r["path"] for r in ranking) == sorted(
      [str(p) for p in (folders / "P").iterdir()] + [str(p) for p in (folders / "Q").iterdir()])
  scores = [r["score"] for r in ranking]
  assert scores == sorted(scores, reverse=True) and all(0 < s < 1 for s in scores)
  assert [r["rank"] for r in ranking] == list(range(1, 49))
  assert result["num_pairs"] == 24 or result["num_pairs"] <= 24
  assert sum(result["cluster_sizes"]) == result["num_pairs"]
  assert len(result["truly_relevant"]) == max(result["cluster_sizes"])
  assert all("/P/" in p for p in result["truly_relevant"])
  assert all("/Q/" in p for p in result["truly_irrelevant"])
  assert (tmp_path / "wd" / "finetune" / "checkpoints").is_dir()


def test_rank_reports_bad_folders(folders, tmp_path, capsys):
  rc = cli.main(["adjectives", "rank", "--relevant", str(folders / "empty"), "--irrelevant",
                 str(folders / "Q"), "--json", str(tmp_path / "x.json")])
  assert rc == 2
  assert f"error: {folders / 'empty'}: no images" in capsys.readouterr().err


def test_rank_reports_an_unknown_pooling_statistic(folders, tmp_path, capsys):
  rc = cli.main(["adjectives", "rank", "--relevant", str(folders / "P"), "--irrelevant",
                 str(folders / "Q"), "--json", str(tmp_path / "x.json"), "--tiny",
                 "--pooling", "mean,bogus"])
  assert rc == 2
  err = capsys.readouterr().err
  assert "pooling: expected one or more of" in err and "bogus" in err
  assert not (tmp_path / "x.json").exists()
