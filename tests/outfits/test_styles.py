import numpy as np
import pytest

from jaxvis.outfits import baselines, polyvore, styles, synthetic, training


@pytest.fixture(scope="module")
def relational(tmp_path_factory):
  root = str(tmp_path_factory.mktemp("styles"))
  style_of = styles.make_dataset(root, styles.StyleConfig(num_outfits=(600, 10, 100),
                                                          items_per_style=12))
  return root, style_of


def test_relational_benchmark_defeats_colour_baselines(relational):
  root, style_of = relational
  data = polyvore.read_polyvore_outfits(root, "disjoint")
  part_of = {i: it.part for i, it in data.items.items()}
  for o in data.outfits["train"]:
    assert polyvore.is_valid_outfit([part_of[i] for i in o.item_ids])
    assert styles.follows_rule(o.item_ids, part_of, style_of, 4)
    body = [style_of[i] for i in o.item_ids if part_of[i] != "accessory"]
    assert len(set(body)) == len(body)             # a relation, never one shared style
  for label, ids in data.compatibility["test"]:
    assert styles.follows_rule(ids, part_of, style_of, 4) == bool(label)
  for q in data.fitb["test"]:
    ok = [styles.follows_rule(q.question + (c,), part_of, style_of, 4) for c in q.candidates]
    assert ok.count(True) == 1 and ok[q.answer]
  # item colours are drawn independently of the rule: hue and colour histograms see chance
  res = baselines.evaluate_baselines(data, "test")
  assert res["hue"]["compatibility_auc"] <= 0.65
  assert res["histogram"]["compatibility_auc"] <= 0.65
  assert res["hue"]["fitb_accuracy"] <= 0.45          # chance: 0.25


def test_a_grader_learns_the_relation_the_baselines_miss(relational, tmp_path):
  root, _ = relational
  cfg = training.OutfitsConfig.tiny(root, model="deepsets", num_steps=600, dropout=0.1,
                                    allow_random_backbone=True)
  _, _, result = training.train(cfg, str(tmp_path / "run"), progress=False)
  hue = baselines.evaluate_baselines(polyvore.read_polyvore_outfits(root, "disjoint"))["hue"]
  # measured: 0.902 against hue 0.514 here; on the datasets of seeds 1 and 2 0.809 / 0.874
  # against 0.450 / 0.488
  assert result["compatibility_auc"] >= hue["compatibility_auc"] + 0.15
  assert result["compatibility_auc"] >= 0.7


def test_hue_baseline_solves_the_one_hue_family_dataset(tmp_path):
  root = str(tmp_path / "hue")
  synthetic.make_dataset(root, synthetic.SyntheticConfig(num_outfits=(10, 10, 30),
                                                          items_per_palette=3, image_size=32))
  res = baselines.evaluate_baselines(polyvore.read_polyvore_outfits(root, "disjoint"), "test")
  assert res["hue"]["compatibility_auc"] >= 0.95 and res["hue"]["fitb_accuracy"] >= 0.9


def test_hue_and_histogram_scores():
  red, green = np.array([1.0, 0.0]), np.array([-0.5, 0.866])
  assert baselines.hue_score([red, red * 0.3]) == 1.0
  assert baselines.hue_score([red, green, np.array([-0.5, -0.866])]) < 1e-3
  h = np.eye(3)
  assert baselines.histogram_score([h[0], h[0]]) == 1.0
  assert baselines.histogram_score([h[0], h[1], h[2]]) == 0.0


def test_synth_cli_writes_the_relational_benchmark(tmp_path):
  from jaxvis import cli
  root = str(tmp_path / "s")
  assert cli.main(["outfits", "synth", root, "--rule", "styles", "--outfits", "12", "4", "4",
                   "--items-per-style", "3", "--image-size", "32"]) == 0
  data = polyvore.read_polyvore_outfits(root, "nondisjoint")
  assert [len(data.outfits[s]) for s in polyvore.SPLITS] == [12, 4, 4]
  assert len(data.compatibility["test"]) == 8
