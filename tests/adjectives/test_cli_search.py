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


def _write_query(folder, query):
  folder.mkdir(parents=True, exist_ok=True)
  names, truth_lines, label_lines = [], [], []
  for tag, images, rel, labels in (("p", query.P, query.relevant_p, query.labels_p),
                                   ("q", query.Q, query.relevant_q, query.labels_q)):
    for i, img in enumerate(images):
      name = f"{tag}{i:03d}.png"
      Image.fromarray((img * 255).round().astype(np.uint8)).save(folder / name)
      names.append(name)
      truth_lines.append(f"{name},{int(rel[i])}")
      label_lines.append(f"{name},scene{labels[i]}")
  return names, "\n".join(truth_lines) + "\n", "\n".join(label_lines) + "\n"


def test_train_save_score_round_trip_with_labels_and_truth(tmp_path):
  from jaxvis.adjectives import search
  photos = controlled.load_photos(("astronaut", "coffee", "chelsea"))
  q = controlled.make_query("warm", 0.785, 0.18, 16, 28, seed=0, photos=photos)
  _, truth, labels = _write_query(tmp_path / "all", q)
  for tag in ("p", "q"):
    (tmp_path / tag).mkdir()
    for f in (tmp_path / "all").glob(f"{tag}*.png"):
      f.rename(tmp_path / tag / f.name)
  (tmp_path / "truth.txt").write_text(truth)
  (tmp_path / "labels.csv").write_text(labels)
  model = tmp_path / "model"
  rc = cli.main(["adjectives", "rank", "--relevant", str(tmp_path / "p"), "--irrelevant",
                 str(tmp_path / "q"), "--json", str(tmp_path / "rank.json"), "--tiny", "--size", "28",
                 "--steps", "2", "--labels", str(tmp_path / "labels.csv"), "--truth",
                 str(tmp_path / "truth.txt"), "--save-model", str(model), "--query", "warm photo"])
  assert rc == 0
  ranked = json.loads((tmp_path / "rank.json").read_text())
  scores = {r["path"].rsplit("/", 1)[-1]: r["score"] for r in ranked["ranking"]}
  rel = {r["path"].rsplit("/", 1)[-1]: r["relevant"] for r in ranked["ranking"]}
  names = sorted(scores)
  expected_ap = search.average_precision(np.array([scores[n] for n in names]),
                                         np.array([rel[n] for n in names]))
  assert ranked["truth"]["average_precision"] == pytest.approx(expected_ap)
  assert ranked["truth"]["relevant"] == int(q.relevant_p.sum() + q.relevant_q.sum())
  # The saved model gives the training images the same scores when it ranks them anew.
  out = tmp_path / "score.json"
  assert cli.main(["adjectives", "score", str(model), str(tmp_path / "p"), str(tmp_path / "q"),
                   "--json", str(out), "--truth", str(tmp_path / "truth.txt")]) == 0
  again = json.loads(out.read_text())
  assert again["query"] == "warm photo"
  for r in again["ranking"]:
    assert r["score"] == pytest.approx(scores[r["path"].rsplit("/", 1)[-1]], abs=1e-5)
  assert again["truth"]["average_precision"] == pytest.approx(expected_ap, abs=1e-6)
  # New images of the same query (another seed) are ranked by the saved model.
  new = controlled.make_query("warm", 0.785, 0.18, 8, 28, seed=1, photos=photos)
  _, new_truth, _ = _write_query(tmp_path / "new", new)
  (tmp_path / "new_truth.txt").write_text(new_truth)
  assert cli.main(["adjectives", "score", str(model), str(tmp_path / "new"), "--json",
                   str(tmp_path / "new.json"), "--truth", str(tmp_path / "new_truth.txt")]) == 0
  fresh = json.loads((tmp_path / "new.json").read_text())
  assert len(fresh["ranking"]) == 16 and 0.0 <= fresh["truth"]["average_precision"] <= 1.0
  # Labels must cover every image; truth must name ranked images.
  (tmp_path / "labels.csv").write_text("p000.png,scene0\n")
  assert cli.main(["adjectives", "train", "--relevant", str(tmp_path / "p"), "--irrelevant",
                   str(tmp_path / "q"), "--out", str(tmp_path / "m2"), "--tiny", "--size", "28",
                   "--labels", str(tmp_path / "labels.csv")]) == 2


def test_readout_option_sets_the_codes_read_and_survives_a_saved_model(folders, tmp_path, capsys):
  # --readout top: the paper's raw top-level maps; the saved model scores with the same read-out.
  from jaxvis.adjectives import cli as adjectives_cli
  from jaxvis.adjectives import relevance, saved, search
  from jaxvis.adjectives.train import init_params
  base = ["adjectives", "rank", "--relevant", str(folders / "P"), "--irrelevant",
          str(folders / "Q"), "--json", str(tmp_path / "x.json"), "--tiny"]
  args = cli.build_parser().parse_args(base + ["--readout", "top"])
  config = adjectives_cli.search_config(args, 24)
  assert (config.feature_levels, config.grid, config.pooling) == ("top", None, ("mean",))
  default = adjectives_cli.search_config(cli.build_parser().parse_args(base), 24)
  assert (default.feature_levels, default.grid, default.pooling, default.standardize) == \
      ("all", 2, ("mean", "log_contrast"), True)
  # A model saved with that config reads 4 x 4 x 4 raw top codes when scoring 28 x 28 images.
  params = init_params(config.scae, (28, 28, 3))
  rng = np.random.default_rng(0)
  model = relevance.fit_relevance(rng.normal(size=(8, 64)), rng.normal(size=(8, 64)) + 1, steps=5)
  result = search.SearchResult(None, None, None, None, params, model)
  saved.save(str(tmp_path / "m"), config, result, 28, "warm photo")
  loaded = saved.load(str(tmp_path / "m"))
  assert loaded.config.grid is None and loaded.config.feature_levels == "top"
  images = rng.uniform(0, 1, (3, 28, 28, 3)).astype(np.float32)
  codes = search.encode_set(config, params, images)
  np.testing.assert_allclose(saved.score_images(loaded, images),
                             relevance.relevance_scores(model, codes), rtol=1e-6)
  # The read-out fixes pooling and standardisation: combining it with either is refused.
  for extra in (["--pooling", "mean"], ["--no-standardize"]):
    assert cli.main(base + ["--readout", "top"] + extra) == 2
    assert "error: --readout: sets the pooling" in capsys.readouterr().err
