"""End to end on the synthetic dataset: train (CLI), evaluate, recommend from a closet."""

import json
import os

import numpy as np
import pytest

from jaxvis import cli
from jaxvis.outfits import closet as closet_lib
from jaxvis.outfits import features, polyvore, recommend, synthetic, training


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
  root = str(tmp_path_factory.mktemp("polyvore_outfits"))
  synthetic.make_dataset(root, synthetic.SyntheticConfig(num_outfits=(400, 40, 40),
                                                          items_per_palette=4, image_size=64))
  return root


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory, capsys_module=None):
  workdir = str(tmp_path_factory.mktemp("grader"))
  code = cli.main(["outfits", "train", "--data", dataset, "--workdir", workdir, "--tiny",
                   "--quiet", "--feature-cache", os.path.join(dataset, "features"),
                   "--allow-random-backbone"])
  assert code == 0
  with open(os.path.join(workdir, "eval_test.json")) as f:
    return workdir, json.load(f)


def test_slot_grader_learns_the_synthetic_rule(trained):
  _, result = trained
  assert result["auc"] >= 0.9                       # the floor
  assert result["compatibility_auc"] >= 0.9
  assert result["fitb_accuracy"] >= 0.6             # chance: 0.25
  assert result["accuracy"] > 0.75 and result["precision"] > 0.6
  assert result["part_classifier_accuracy"] >= 0.9   # parts of unseen test items, chance 1/6


def test_reevaluation_is_identical_after_the_shared_cache_grows(trained, dataset, tmp_path,
                                                               capsys):
  workdir, result = trained
  assert cli.main(["outfits", "evaluate", "--workdir", workdir, "--quiet"]) == 0
  first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
  for key in ("auc", "compatibility_auc", "fitb_accuracy", "accuracy"):
    assert first[key] == pytest.approx(result[key], abs=1e-6)
  # another dataset's items enter the shared feature cache (this used to move the mean image)
  cfg = training.load(workdir).cfg.feature_config()
  cache = features.FeatureCache(os.path.join(dataset, "features", cfg.key()), cfg)
  extra = {}
  for k in range(3):
    extra[f"other{k}"] = str(tmp_path / f"other{k}.jpg")
    synthetic.render_item("upper", "t-shirt", (30 * k, 200, 90), False, 64).save(extra[f"other{k}"])
  cache.update(extra, progress=False)
  assert cli.main(["outfits", "evaluate", "--workdir", workdir, "--quiet"]) == 0
  again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
  assert again == first
  # the empty-slot feature saved with the model is the mean image of the training items only
  data = polyvore.read_polyvore_outfits(dataset, "disjoint")
  train_items = sorted({i for o in data.outfits["train"] for i in o.item_ids})
  saved = np.load(os.path.join(workdir, training.MEAN_FEATURE_FILE))
  np.testing.assert_allclose(
      saved, features.mean_image_feature([data.items[i].image for i in train_items], cfg),
      rtol=1e-4, atol=1e-5)


def test_random_backbone_is_refused_unless_asked(dataset, tmp_path, capsys):
  code = cli.main(["outfits", "train", "--data", dataset, "--workdir", str(tmp_path / "w"),
                   "--tiny", "--quiet"])
  assert code == 2
  assert "error: --weights: no backbone weight file" in capsys.readouterr().err


def _closet(dataset, folder, names):
  data = polyvore.read_polyvore_outfits(dataset, "disjoint")
  os.makedirs(folder, exist_ok=True)
  table = {}
  for item_id in names:
    item = data.items[item_id]
    with open(item.image, "rb") as src, open(os.path.join(folder, f"{item_id}.jpg"), "wb") as dst:
      dst.write(src.read())
    table[f"{item_id}.jpg"] = item.part
  with open(os.path.join(folder, "parts.json"), "w") as f:
    json.dump(table, f)
  return data


def test_recommend_cli_prefers_one_palette_and_matches_the_naive_grader(trained, dataset, tmp_path,
                                                                        capsys):
  workdir, _ = trained
  # test-split items: 2 palettes x (2 upper, 2 lower, 2 feet, 2 accessories), no outer/full
  names = [f"te{p[:3]}{pal}00{k}" for p in ("upper", "lower", "feet", "accessory")
           for pal in (0, 2) for k in range(2)]
  folder = str(tmp_path / "closet")
  _closet(dataset, folder, names)
  sheet = str(tmp_path / "sheet.png")
  code = cli.main(["outfits", "recommend", folder, "--workdir", workdir, "--top", "5", "--json",
                   "--sheet", sheet])
  assert code == 0
  captured = capsys.readouterr()
  rows = json.loads(captured.out)
  assert len(rows) == 5 and rows[0]["rank"] == 1
  assert "outer+upper+lower+feet skipped: the closet has no outer item" in captured.err
  assert "full+feet skipped" in captured.err
  assert all(r["configuration"] == "upper+lower+feet" for r in rows)
  best = rows[0]["items"]
  assert len({i["name"][5] for i in best}) == 1       # the top outfit keeps one palette
  assert os.path.getsize(sheet) > 0

  grader = training.load(workdir)
  closet = closet_lib.load_closet(folder)
  feats = grader.to_grader_space(closet_lib.closet_features(closet, grader.cfg.feature_config()))
  naive = recommend.naive_top_k(grader.model, grader.variables, feats, grader.mean_feature,
                                closet.parts, k=5)
  np.testing.assert_allclose([r["score"] for r in rows], [o.score for o in naive], rtol=1e-4)


def test_recommend_errors_name_the_bad_input(trained, dataset, tmp_path, capsys):
  workdir, _ = trained
  folder = str(tmp_path / "closet")
  _closet(dataset, folder, ["teupp0000", "telow0000", "tefee0000"])
  with open(os.path.join(folder, "broken.jpg"), "w") as f:
    f.write("not a jpeg")
  table = json.load(open(os.path.join(folder, "parts.json")))
  with open(os.path.join(folder, "parts.json"), "w") as f:
    json.dump({**table, "broken.jpg": "upper"}, f)
  assert cli.main(["outfits", "recommend", folder, "--workdir", workdir]) == 2
  assert "broken.jpg: is not an image" in capsys.readouterr().err
  with open(os.path.join(folder, "parts.json"), "w") as f:
    json.dump({**table, "teupp0000.jpg": "shirt"}, f)
  assert cli.main(["outfits", "recommend", folder, "--workdir", workdir]) == 2
  assert "unknown part label 'shirt'" in capsys.readouterr().err


def test_item_id_closet_uses_the_feature_cache(trained, dataset, tmp_path, capsys):
  workdir, _ = trained
  grader = training.load(workdir)
  cache = os.path.join(dataset, "features", grader.cfg.feature_config().key())
  items = polyvore.read_polyvore_outfits(dataset, "disjoint").items
  cached = json.load(open(os.path.join(cache, "meta.json")))["ids"]
  names = [next(i for i in cached if items[i].part == p and i.startswith("te"))
           for p in ("upper", "lower", "feet", "full")]
  spec = {"feature_cache": os.path.relpath(cache, str(tmp_path)),
          "items": [{"item_id": n, "part": items[n].part} for n in names]}
  path = str(tmp_path / "closet.json")
  with open(path, "w") as f:
    json.dump(spec, f)
  assert cli.main(["outfits", "recommend", path, "--workdir", workdir, "--top", "5",
                   "--json"]) == 0
  rows = json.loads(capsys.readouterr().out)
  assert len(rows) == 2                 # upper+lower+feet and full+feet, no accessories
  assert {i["name"] for r in rows for i in r["items"]} == set(names)


def test_crawled_sets_train_a_set_grader_on_an_algorithm_1_split(dataset, tmp_path):
  # Polyvore409k form: named items only, likes; split by Algorithm 1 at load time.
  data = polyvore.read_polyvore_outfits(dataset, "nondisjoint")
  sets = [{"set_id": o.set_id, "likes": 1 + (k % 3),
           "items": [{"item_id": i, "name": data.items[i].name, "image": data.items[i].image}
                     for i in o.item_ids]}
          for k, o in enumerate(data.outfits["train"] + data.outfits["test"])]
  path = str(tmp_path / "sets.jsonl")
  with open(path, "w") as f:
    f.write("\n".join(json.dumps(s) for s in sets))
  cfg = training.OutfitsConfig.tiny(path, data_format="crawled", model="deepsets", num_steps=20,
                                    feature_cache=os.path.join(dataset, "features"),
                                    allow_random_backbone=True)
  loaded = training.load_dataset(cfg)
  train_items = {i for o in loaded.outfits["train"] for i in o.item_ids}
  test_items = {i for o in loaded.outfits["test"] for i in o.item_ids}
  assert loaded.outfits["test"] and not train_items & test_items
  _, _, result = training.train(cfg, str(tmp_path / "run"), progress=False)
  assert 0.0 <= result["auc"] <= 1.0 and result["num_outfits"] == 3 * len(loaded.outfits["test"])
  assert "fitb_accuracy" not in result
  # a set grader recommends through the full (naive) scorer
  grader = training.load(str(tmp_path / "run"))
  assert grader.cfg.model == "deepsets" and grader.norm is not None
  cache = os.path.join(dataset, "features", cfg.feature_config().key())
  ids = json.load(open(os.path.join(cache, "meta.json")))["ids"]
  names = [next(i for i in ids if data.items[i].part == p) for p in ("upper", "lower", "feet")]
  closet = closet_lib.Closet(names, [data.items[i].part for i in names], [""] * 3, cache)
  top = recommend.recommend_closet(grader, closet, k=3)
  assert len(top) == 1 and top[0].items == (0, 1, 2) and 0 < top[0].score < 1


def test_closet_folder_by_file_names_with_duplicates_and_constraints(trained, dataset, tmp_path,
                                                                     capsys):
  from PIL import Image
  workdir, _ = trained
  data = polyvore.read_polyvore_outfits(dataset, "disjoint")
  folder = tmp_path / "closet"
  folder.mkdir()
  picks = {"red_tshirt.jpg": "teupp0000", "blue-top.jpg": "teupp2000", "jeans.jpg": "telow0000",
           "grey trousers.jpg": "telow2001", "boots.jpg": "tefee0000", "sneakers.jpg": "tefee2000",
           "bag.jpg": "teacc0000", "necklace.jpg": "teacc2001"}
  for name, item in picks.items():
    Image.open(data.items[item].image).save(folder / name)
  # the same necklace photographed twice: re-saved as PNG at another size
  Image.open(data.items["teacc2001"].image).resize((72, 72)).save(folder / "necklace_2.png")
  Image.new("RGB", (64, 64), (250, 250, 250)).save(folder / "receipt.jpg")
  code = cli.main(["outfits", "recommend", str(folder), "--workdir", workdir, "--top", "50",
                   "--json", "--with", "jeans", "--without", "boots.jpg"])
  assert code == 0
  captured = capsys.readouterr()
  assert "near-duplicate photos: necklace.jpg = necklace_2.png (keeping necklace.jpg)" in \
      captured.err
  assert captured.err.count("near-duplicate") == 1
  assert "left out (no clothing term in the file name, not in parts.json): receipt.jpg" in \
      captured.err
  rows = json.loads(captured.out)
  # upper x jeans x sneakers x {0, bag, necklace, both}: 2 * 1 * 1 * 4
  assert len(rows) == 8
  for row in rows:
    names = [i["name"] for i in row["items"]]
    assert "jeans.jpg" in names and "boots.jpg" not in names and "necklace_2.png" not in names
  assert cli.main(["outfits", "recommend", str(folder), "--workdir", workdir,
                   "--with", "scarf"]) == 2
  assert "error: --with: no closet item named 'scarf'" in capsys.readouterr().err
  # a photo named by the camera gets its part from the grader's part classifier
  Image.open(data.items["telow2000"].image).save(folder / "IMG_0001.jpg")
  assert cli.main(["outfits", "recommend", str(folder), "--workdir", workdir, "--json",
                   "--infer-parts", "--top", "100"]) == 0
  captured = capsys.readouterr()
  assert "part from the classifier: IMG_0001.jpg -> lower" in captured.err
  assert any(i["name"] == "IMG_0001.jpg" for r in json.loads(captured.out) for i in r["items"])


def _as_maryland(data, root, n_train=40, n_test=12):
  """The synthetic outfits in the Maryland Polyvore layout: tid image URLs, categoryid, and a
  nail polish (categoryid 222) in every test outfit, offered as a FITB candidate too."""
  import shutil
  cid = {"outer": 25, "upper": 21, "lower": 28, "full": 4, "feet": 42, "accessory": 35}
  tid = {i: str(1000 + n) for n, i in enumerate(sorted(data.items))}
  keys = {}
  for split, outfits in (("train", data.outfits["train"][:n_train]), ("valid", []),
                         ("test", data.outfits["test"][:n_test])):
    recs = []
    for o in outfits:
      os.makedirs(os.path.join(root, "images", o.set_id))
      items = []
      for k, i in enumerate(o.item_ids, 1):
        shutil.copy(data.items[i].image, os.path.join(root, "images", o.set_id, f"{k}.jpg"))
        items.append({"index": k, "name": data.items[i].name, "categoryid": cid[data.items[i].part],
                      "image": f"http://img1.polyvoreimg.com/cgi/img-thing?.out=jpg&tid={tid[i]}"})
      if split == "test":
        k = len(items) + 1
        shutil.copy(data.items[o.item_ids[0]].image, os.path.join(root, "images", o.set_id,
                                                                   f"{k}.jpg"))
        items.append({"index": k, "name": "Essie top coat", "categoryid": 222,
                      "image": f"http://img1.polyvoreimg.com/cgi/img-thing?tid=9{o.set_id}"})
        keys[o.set_id] = [f"{o.set_id}_{it['index']}" for it in items]
      recs.append({"set_id": o.set_id, "likes": 1, "items": items})
    with open(os.path.join(root, f"{split}_no_dup.json"), "w") as f:
      json.dump(recs, f)
  sets = list(keys)
  fitb = [{"question": keys[s][1:], "blank_position": 1,
           "answers": [keys[s][0], keys[sets[n - 1]][0], keys[sets[n - 1]][-1], keys[sets[n - 2]][-1]]}
          for n, s in enumerate(sets)]
  with open(os.path.join(root, "fill_in_blank_test.json"), "w") as f:
    json.dump(fitb, f)
  with open(os.path.join(root, "fashion_compatibility_prediction.txt"), "w") as f:
    f.write("".join(f"1 {' '.join(keys[s])}\n0 {keys[s][0]} {' '.join(keys[sets[n - 1]][1:])}\n"
                    for n, s in enumerate(sets)))


def test_maryland_layout_trains_and_grades_non_clothing_fitb_candidates(dataset, tmp_path):
  root = str(tmp_path / "maryland")
  _as_maryland(polyvore.read_polyvore_outfits(dataset, "disjoint"), root)
  cfg = training.OutfitsConfig.tiny(root, data_format="maryland", num_steps=20,
                                    allow_random_backbone=True)
  _, _, result = training.train(cfg, str(tmp_path / "run"), progress=False)
  # two of each question's four candidates are nail polish (the old code raised KeyError); the
  # nail polish inside each question and compatibility outfit is trimmed
  assert result["fitb_questions"] == 12 and result["fitb_non_clothing_candidates"] == 24
  assert result["compatibility_outfits"] == 24 and 0 <= result["fitb_accuracy"] <= 1
