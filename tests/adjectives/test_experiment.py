"""`experiments/adjectives_controlled.py`: the JSON it writes and the untrained-SCAE control."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest



@pytest.fixture(scope="module")
def script(load_script):
  return load_script("adjectives_controlled")


def _untrained_config(script):
  """The tiny pipeline with zero training steps and the CLI test's network (compiles are shared)."""
  _, config = script.configs(tiny=True)
  scae = dataclasses.replace(config.scae, features=(4, 4), batch_size=8, greedy_steps=0,
                             finetune_steps=0)
  return dataclasses.replace(config, scae=scae, kmeans_restarts=3)


def test_untrained_control_starts_where_both_models_start(script):
  # With zero training steps, plain and pair-wise SCAE are their common initial weights: all
  # three rankings must then be the same one, which is what the control reports.
  row = script.run_query("warm photo", "warm", "happy dog", dict(m=24, size=28),
                         _untrained_config(script), seed=1, use_labels=True)
  accs = [row[f"{k}_accuracy"] for k in ("plain_scae", "pairwise_scae", "untrained_scae")]
  assert accs[0] == accs[1] == accs[2]
  assert row["untrained_scae_average_precision"] == row["plain_scae_average_precision"]
  assert 0.0 <= accs[0] <= 1.0 and row["pseudo_relevant_precision"] == pytest.approx(19 / 24)
  # The warm cast is a shift of every cell's mean: even random filters rank above P here.
  assert accs[0] > row["pseudo_relevant_precision"]


def test_feature_study_reports_every_model_k_and_feature_group(script, load_script):
  study = load_script("adjectives_feature_study")
  groups = {k: study.GROUPS[k] for k in ("default", "level2_log_contrast")}
  row = study.study_query("warm photo", dict(m=24, size=28), _untrained_config(script), seed=1,
                          clusters=[2, 3], groups=groups)
  models = row["models"]
  assert set(models) == {"untrained", "plain", "pairwise"}
  # Zero training steps: the three are the same initial weights, so every figure agrees.
  assert models["plain"] == models["pairwise"] == models["untrained"]
  untrained = models["untrained"]
  assert set(untrained["oracle_auc"]) == set(groups)
  assert all(0.0 <= a <= 1.0 for a in untrained["oracle_auc"].values())
  # A warm cast shifts every cell's mean: the means of any filter bank separate it well.
  assert untrained["oracle_auc"]["default"] > 0.8
  for k in (2, 3):
    r = untrained[f"rank_k{k}"]
    assert 0.0 <= r["accuracy"] <= 1.0 and 0.0 <= r["cluster_pair_purity"] <= 1.0
    assert 1 <= r["largest"] <= 24


def test_json_format_and_the_width_feature_levels_and_control_flags(script, tmp_path,
                                                                    monkeypatch):
  # Session 4's bottleneck test: --features sets the maps per level, --feature-levels reads each
  # model (trained once) with several feature sets; --no-untrained-control drops the control.
  real_configs = script.configs

  def small(tiny, *args, **kwargs):
    _, config = real_configs(tiny, *args, **kwargs)
    scae = dataclasses.replace(config.scae, batch_size=8, greedy_steps=0, finetune_steps=0)
    return dict(m=24, size=28), dataclasses.replace(config, scae=scae, kmeans_restarts=3)

  monkeypatch.setattr(script, "configs", small)
  out = tmp_path / "w.json"
  assert script.main(["--tiny", "--json", str(out), "--queries", "warm photo", "--seed", "1",
                      "--features", "4,4", "--feature-levels", "all", "top",
                      "--no-untrained-control"]) == 0
  result = json.loads(out.read_text())
  assert result["config"]["scae"]["features"] == [4, 4]
  assert result["config"]["feature_levels"] == "all"
  assert result["feature_levels_read"] == ["all", "top"]
  (row,) = result["queries"]
  assert {"query", "pseudo_relevant_precision", "plain_scae_accuracy",
          "pairwise_scae_accuracy", "plain_scae_top_accuracy", "pairwise_scae_top_accuracy",
          "pairwise_scae_top_cluster_pair_purity"} <= set(row)
  assert row["query"] == "warm photo" and not any(k.startswith("untrained") for k in row)
  # Zero steps: both models are one set of initial weights.
  assert row["plain_scae_top_accuracy"] == row["pairwise_scae_top_accuracy"]
  # The "top" figures are those of a run whose primary features are the top level.
  _, config = small(True, widths=(4, 4), feature_levels="top")
  alone = script.run_query("warm photo", "warm", "happy dog", dict(m=24, size=28), config,
                           seed=1, use_labels=True, untrained_control=False)
  for stat in ("accuracy", "average_precision", "cluster_pair_purity"):
    assert alone[f"plain_scae_{stat}"] == row[f"plain_scae_top_{stat}"]
  full = real_configs(False, widths=(20, 4))[1].scae
  assert full.features == (20, 4) and real_configs(False)[1].scae.features == (20, 20)


@pytest.mark.parametrize("flags, message", [
    (["--features", "0,4"], "--features"), (["--features", "20,x"], "--features"),
    (["--feature-levels", "top", "top"], "--feature-levels: each at most once"),
    (["--feature-levels", "middle"], "--feature-levels")])
def test_bad_width_and_feature_levels_flags_are_named(script, tmp_path, capsys, flags, message):
  with pytest.raises(SystemExit):
    script.main(["--tiny", "--json", str(tmp_path / "x.json")] + flags)
  assert message in capsys.readouterr().err


def test_rank_query_with_given_params_skips_training_and_checks_them(script):
  from jaxvis.adjectives import controlled, search
  from jaxvis.adjectives.train import init_params
  q = controlled.make_query("warm", 0.8, 0.2, 24, 28, seed=2)
  labels = dict(labels_p=q.labels_p, labels_q=q.labels_q)
  config = search.SearchConfig.tiny(batch_size=8, greedy_steps=3, finetune_steps=3)
  # Weights that training from config.scae.seed would never give: seed 5's initial ones.
  start5 = dataclasses.replace(config.scae, seed=5, greedy_steps=0, finetune_steps=0)
  given = search.rank_query(q.P, q.Q, config, params=init_params(start5, q.P.shape[1:]), **labels)
  # Same result as the pipeline on those weights untrained: given params are used as they are.
  expected = search.rank_query(q.P, q.Q, dataclasses.replace(config, scae=start5), **labels)
  np.testing.assert_array_equal(given.scores, expected.scores)
  assert not np.array_equal(given.scores, search.rank_query(
      q.P, q.Q, dataclasses.replace(config, scae=dataclasses.replace(start5, seed=0)),
      **labels).scores)
  narrower = dataclasses.replace(config, scae=dataclasses.replace(config.scae, features=(4, 2)))
  with pytest.raises(ValueError, match=r"params: expected the parameters of a stacked CAE with "
                                       r"features=\(4, 2\)"):
    search.rank_query(q.P, q.Q, narrower, params=given.params)


def test_readouts_trivial_baseline_and_cluster_counts_in_the_json(script, tmp_path, monkeypatch):
  # Issue 21: every model read with each --readout (trained once) at each K; the trivial baseline
  # beside them; the untrained control is kept.
  real_configs = script.configs

  def small(tiny, *args, **kwargs):
    _, config = real_configs(tiny, *args, **kwargs)
    scae = dataclasses.replace(config.scae, features=(4, 4), batch_size=8, greedy_steps=0,
                               finetune_steps=0)
    return dict(m=24, size=28), dataclasses.replace(config, scae=scae, kmeans_restarts=3)

  monkeypatch.setattr(script, "configs", small)
  out = tmp_path / "r.json"
  assert script.main(["--quick", "--json", str(out), "--queries", "warm photo", "--seed", "1",
                      "--readout", "top", "pooled", "--cluster-counts", "3", "2"]) == 0
  result = json.loads(out.read_text())
  assert result["quick"] and result["cluster_counts"] == [2, 3]
  assert result["readouts"]["top"]["grid"] is None
  (row,) = result["queries"]
  assert row["pairs"]["count"] >= 8 and 0 < row["pairs"]["relevant_irrelevant_share"] <= 1
  assert row["ceiling"] == pytest.approx(min(19 + 4, 24) / 24)
  for readout in ("top", "pooled"):
    block = row["readouts"][readout]
    assert set(block) == {"trivial", "plain_scae", "pairwise_scae", "untrained_scae"}
    for per_k in block.values():
      assert set(per_k) == {"2", "3"}
      for r in per_k.values():
        assert r["kept_pairs"] == max(r["cluster_sizes"]) and sum(r["cluster_sizes"]) == \
            row["pairs"]["count"]
        assert 0.0 <= r["cluster_pair_purity"] <= 1.0 and 0.0 <= r["accuracy"] <= 1.0
  # The first read-out's K = 2 figures are the flat keys (the primary config is the pooled one).
  assert row["plain_scae_accuracy"] == row["readouts"]["pooled"]["plain_scae"]["2"]["accuracy"]
  assert row["trivial_accuracy"] == row["readouts"]["top"]["trivial"]["2"]["accuracy"]
  # The warm cast moves the colour means: the nine statistics rank it above P.
  assert row["trivial_accuracy"] > row["pseudo_relevant_precision"]


@pytest.mark.parametrize("flags, message", [
    (["--readout", "middle"], "--readout"), (["--readout", "top", "top"], "--readout: each"),
    (["--cluster-counts", "2"], "--cluster-counts needs --readout"),
    (["--readout", "top", "--cluster-counts", "1"], "--cluster-counts: expected K >= 2"),
    (["--grid", "0"], "--grid"), (["--grid", "none"], "--grid/--pooling")])
def test_bad_readout_and_grid_flags_are_named(script, tmp_path, capsys, flags, message):
  with pytest.raises(SystemExit):
    script.main(["--tiny", "--json", str(tmp_path / "x.json")] + flags)
  assert message in capsys.readouterr().err


def test_grid_none_reads_the_whole_maps(script):
  assert script.parse_grid("none") is None and script.parse_grid("3") == 3
  _, config = script.configs(True, grid=None, pooling=("mean",))
  assert config.grid is None


def _run(seed, accs):
  """A per-seed JSON with one query and the given K = 2 accuracies."""
  per_model = {m: {"2": {"accuracy": a, "kept_pairs": 10, "cluster_pair_purity": 0.8}}
               for m, a in accs.items()}
  return {"seed": seed, "config": {"num_clusters": 2},
          "queries": [{"query": "q", "pseudo_relevant_precision": 0.75, "ceiling": 1.0,
                       "pairs": {"count": 12, "relevant_irrelevant_share": 0.7},
                       "readouts": {"top": per_model}}]}


def test_decision_rule_needs_a_margin_over_every_competitor_larger_than_the_spread(tmp_path, load_script):
  verdicts = load_script("adjectives_verdicts")
  models = ("trivial", "untrained_scae", "plain_scae", "pairwise_scae")
  # Pair-wise 0.90 +- 0.02 vs the best competitor 0.85 +- 0.01: margin 0.05 > 0.02 -> better.
  good = [dict(zip(models, (0.80, 0.82, 0.84 + d, 0.90 + 2 * d))) for d in (-0.01, 0.0, 0.01)]
  paths = []
  for seed, accs in enumerate(good):
    path = tmp_path / f"seed_{seed}.json"
    path.write_text(json.dumps(_run(seed, accs)))
    paths.append(str(path))
  summary = verdicts.summarise(verdicts.load_runs(paths))
  cells = summary["readouts"]["top"]["q"]
  assert cells["pairwise_scae"]["mean"] == pytest.approx(0.90)
  assert cells["pairwise_scae"]["sd"] == pytest.approx(0.02)
  assert cells["verdict"] == {"better": True, "failed_against": []}
  assert cells["clusters"]["pairwise_scae"]["2"]["kept_pairs"]["mean"] == 10
  # A margin within the larger spread fails, and the competitor is named; so does P.
  cells["plain_scae"] = {"mean": 0.88, "sd": 0.03}
  assert verdicts.verdict(cells) == {"better": False, "failed_against": ["plain_scae"]}
  cells["P"] = {"mean": 0.95, "sd": 0.0}
  assert verdicts.verdict(cells)["failed_against"] == ["P", "plain_scae"]
  with pytest.raises(SystemExit, match="the same seed twice"):
    verdicts.load_runs([paths[0], paths[0]])
  # The VSO experiment's file holds one run per seed: read the same way.
  both = tmp_path / "vso.json"
  both.write_text(json.dumps({"runs": [_run(s, a) for s, a in enumerate(good)]}))
  assert verdicts.summarise(verdicts.load_runs([str(both)])) == \
      verdicts.summarise(verdicts.load_runs(paths))
  no_block = _run(7, good[0])
  del no_block["queries"][0]["readouts"]
  (tmp_path / "old.json").write_text(json.dumps(no_block))
  with pytest.raises(SystemExit, match="without --readout"):
    verdicts.load_runs([str(tmp_path / "old.json")])
