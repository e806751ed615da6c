"""End-to-end: the experiment scripts (--tiny) and the CLI, on generated data in the real formats."""

import json

import numpy as np
import pytest
from PIL import Image

from jaxvis.errors import InputError
from jaxvis.saliency import cifar10, imagenet

METHOD_KEYS = {"masking_model", "center_box", "max_box", "gradient", "grad_cam", "iterative_mask"}


def _check_method(r, timed):
  assert 0.0 <= r["localisation_error"] <= 100.0
  assert np.isfinite(r["saliency_metric"]) and r["saliency_metric"] >= np.log(0.05) - 1e-6
  if timed:
    assert r["masks_per_s"] > 0


@pytest.fixture(scope="module")
def tiny_digits(tmp_path_factory, load_script):
  """One --tiny run of the cluttered-digits experiment (JSON, grid, saved weights), shared by the tests below."""
  d = tmp_path_factory.mktemp("digits")
  argv = ["--tiny", "--json", str(d / "digits.json"), "--grid", str(d / "grid.png"), "--save-weights", str(d / "w")]
  assert load_script("saliency_cluttered_digits").main(argv) == 0
  return d


def test_cluttered_digits_tiny_json_schema(tiny_digits):
  res = json.loads((tiny_digits / "digits.json").read_text())
  assert METHOD_KEYS <= set(res["methods"])
  for name, r in res["methods"].items():
    assert {"localisation_error", "saliency_metric", "masks_per_s"} <= set(r)
    _check_method(r, name not in ("center_box", "max_box", "ground_truth_boxes"))
  # the whole-image box fails every digit (digits cover < 25% of a canvas): error 100%
  assert res["methods"]["max_box"]["localisation_error"] == 100.0
  assert res["methods"]["ground_truth_boxes"]["localisation_error"] == 0.0
  # a full-image crop has area 1: its saliency metric is exactly -log p, p <= 1
  assert res["methods"]["max_box"]["saliency_metric"] >= 0.0
  assert Image.open(tiny_digits / "grid.png").size[0] == 5 * 64 * 2


def test_saved_weights_reload_and_explain(tiny_digits):
  from jaxvis import saliency
  from jaxvis.saliency import digits, pretrained
  models, meta = pretrained.load(str(tiny_digits / "w"))
  assert meta["results"] == json.loads((tiny_digits / "digits.json").read_text())
  assert meta["black_box"]["stem_stride"] == 2 and meta["black_box"]["standardize"] is True
  x, y, _ = digits.make_cluttered_digits(2, "test", seed=1)
  masks = saliency.explain(models.masking, x, y)
  assert masks.shape == (2, 64, 64) and float(masks.min()) >= 0.0 and float(masks.max()) <= 1.0
  logits = models.classifier.apply(models.classifier_variables, x)
  assert logits.shape == (2, 10) and bool(np.all(np.isfinite(logits)))
  with pytest.raises(FileNotFoundError, match="directory"):
    pretrained.load(str(tiny_digits / "missing"))


def test_cifar10_tiny_on_fixture(tmp_path, load_script):
  d = tmp_path / "cifar-10-batches-py"
  cifar10.write_fixture(str(d), images_per_batch=8)
  out = tmp_path / "cifar.json"
  assert load_script("saliency_cifar10").main(["--data-dir", str(d), "--tiny", "--json", str(out)]) == 0
  res = json.loads(out.read_text())
  m = res["masking_model"]
  assert m["masks_per_s"] > 0 and 0 <= m["mean_area_true_class"] <= 1 and np.isfinite(m["objective"])
  assert res["label_names"][9] == "truck"


def test_imagenet_tiny_on_fixture(tmp_path, load_script):
  root = tmp_path / "ILSVRC"
  imagenet.write_fixture(str(root), ["n01440764", "n01443537", "n01484850"], train_per_class=3, num_val=4)
  out = tmp_path / "imagenet.json"
  model_dir = tmp_path / "model"
  assert load_script("saliency_imagenet").main(["--root", str(root), "--tiny", "--json", str(out),
                                            "--save-model", str(model_dir), "--steps", "3", "--batch-size", "2",
                                            "--train-per-class", "2", "--val-images", "3"]) == 0
  res = json.loads(out.read_text())
  assert {"masking_model", "gradient", "grad_cam", "iterative_mask", "center_box", "max_box",
          "ground_truth_boxes"} <= set(res["methods"])
  assert res["num_val"] == 3 and res["num_classes"] == 3
  for name, r in res["methods"].items():
    _check_method(r, name in ("masking_model", "gradient", "grad_cam", "iterative_mask"))
  assert (model_dir / "masking_config.json").exists()
  assert res["num_train"] == 6  # --train-per-class 2 of 3 classes
  # the training images stream: the source decodes on access what load_train holds in memory
  x, y = imagenet.load_train(str(root), 64)
  src = imagenet.TrainSource(str(root), 64)
  assert len(src) == 9 and all(np.array_equal(src[i]["image"], x[i]) and src[i]["label"] == y[i] for i in (0, 4, 8))
  with pytest.raises(InputError, match="--image-size"):
    load_script("saliency_imagenet").main(["--root", str(root), "--tiny", "--json", str(out), "--image-size", "40"])


def test_cli_explain_evaluate(tiny_digits, tmp_path):
  from jaxvis.saliency import cli
  import argparse
  parser = argparse.ArgumentParser()
  cli.register(parser)
  out = tiny_digits / "w"  # what `jaxvis saliency train` writes (the same pretrained.save)
  img = tmp_path / "digit.png"
  from jaxvis.saliency import digits
  x, y, _ = digits.make_cluttered_digits(1, "test", seed=5)
  Image.fromarray((x[0] * 255).astype(np.uint8)).save(img)
  overlay = tmp_path / "overlay.png"
  args = parser.parse_args(["explain", str(img), "--class", str(int(y[0])), "--checkpoint", str(out),
                            "--out", str(overlay)])
  assert args.func(args) == 0
  ov = np.asarray(Image.open(overlay))
  assert ov.shape[1] == 4 * ov.shape[0]  # image | overlay | image x mask | image x (1 - mask)
  q = ov.shape[0]
  np.testing.assert_allclose(ov[:, 2 * q:3 * q].astype(int) + ov[:, 3 * q:].astype(int),
                             ov[:, :q].astype(int), atol=2)
  args = parser.parse_args(["explain", str(img), "--class", "11", "--checkpoint", str(out), "--out", str(overlay)])
  with pytest.raises(InputError, match="expected 0..9, got 11"):
    args.func(args)
  grid = tmp_path / "grid.png"
  args = parser.parse_args(["evaluate", "--checkpoint", str(out), "--out", str(grid), "--num", "8",
                            "--iterations", "3", "--json", str(tmp_path / "eval.json")])
  assert args.func(args) == 0
  assert Image.open(grid).size == (5 * 64 * 2, 14 + 8 * 64 * 2)
  assert METHOD_KEYS <= set(json.loads((tmp_path / "eval.json").read_text())["methods"])
  # train needs the CIFAR folder for --dataset cifar10 (training itself runs in the experiment test)
  args = parser.parse_args(["train", "--dataset", "cifar10", "--out", str(tmp_path / "c")])
  with pytest.raises(InputError, match="--data-dir"):
    args.func(args)


@pytest.mark.parametrize("flag", ["default", "authors", "paper"])
def test_cli_train_objective_reaches_the_training(flag, tmp_path, monkeypatch):
  """`jaxvis saliency train --objective X`: the TrainConfig the masking model trains with holds X's
  objective (until issue 18 'authors' silently trained with the default one)."""
  import argparse
  import jax
  from jaxvis.saliency import cli, experiment, objective as O, train
  seen = {}

  class Stop(Exception):
    pass

  def capture(tcfg, *args, **kwargs):
    seen["objective"] = tcfg.objective
    raise Stop

  monkeypatch.setattr(train, "train_masking_model", capture)
  monkeypatch.setattr(train, "train_classifier", lambda module, images, *a, **k: module.init(
      jax.random.key(0), images[:1]))  # no black-box training: only the objective is checked
  parser = argparse.ArgumentParser()
  cli.register(parser)
  args = parser.parse_args(["train", "--out", str(tmp_path / "o"), "--tiny", "--cnn-steps", "1", "--num-train", "16",
                            "--objective", flag])
  with pytest.raises(Stop):
    args.func(args)
  got, default = seen["objective"], experiment.SmallExperimentConfig().objective
  assert got.removal.blur_sigma == default.removal.blur_sigma == 4.0  # the digits' blur in every form
  if flag == "default":
    assert got == default
  elif flag == "authors":
    want = O.ObjectiveConfig.authors(value_range=(0.0, 1.0))
    assert got.form == "authors" and got.tv_weight == want.tv_weight == 0.005 and got != default
    assert got.removal.color_range == 0.33 and got.removal.preserved_noise_std == 0.015
    assert got.removal.value_range == (0.0, 1.0)
  else:
    assert got.form == "paper" and got.tv_weight == 10.0
  assert parser.parse_args(["train", "--out", str(tmp_path / "p")]).objective == "default"


def test_extra_methods_through_the_method_selection(tmp_path):
  """Blur IG, occlusion and XRAI are selectable like the other baselines (`include=`, and
  `jaxvis saliency evaluate --methods`), scored by the same protocol; XRAI runs un-jitted."""
  import argparse
  import dataclasses
  from jaxvis.saliency import cli, digits, experiment, pretrained
  models, _ = pretrained.load()
  x, y, boxes = digits.make_cluttered_digits(4, "test", seed=3)
  cfg = dataclasses.replace(experiment.SmallExperimentConfig(), blur_ig_steps=4, xrai_steps=4, occlusion_size=32,
                            eval_batch=4)
  results, maps = experiment.evaluate_models(cfg, models, x, y, boxes, keep_maps=2,
                                             include=experiment.EXTRA_METHODS)
  for name in experiment.EXTRA_METHODS:
    _check_method(results[name], True)
    assert maps[name].shape == (2, 64, 64) and 0.0 <= maps[name].min() and maps[name].max() <= 1.0
  assert cli.method_list("xrai, occlusion,xrai") == ("xrai", "occlusion")
  assert cli.method_list(None) == experiment.METHOD_ORDER
  parser = argparse.ArgumentParser()
  cli.register(parser)
  args = parser.parse_args(["evaluate", "--checkpoint", pretrained.DIRECTORY, "--out", str(tmp_path / "g.png"),
                            "--methods", "gradient,lime"])
  with pytest.raises(InputError, match="--methods"):
    args.func(args)


def test_rescore_reproduces_the_shipped_rows(tmp_path, load_script):
  """`--rescore DIR --methods gradient`: the saved models on the experiment's own test canvases give
  the shipped gradient row to the last digit (so a rescored row is comparable), and the row is
  replaced in DIR/results.json with a note."""
  import shutil
  from jaxvis.saliency import pretrained
  d = tmp_path / "w"
  shutil.copytree(pretrained.DIRECTORY, d)
  shipped = json.loads((d / "results.json").read_text())
  out = tmp_path / "r.json"
  assert load_script("saliency_cluttered_digits").main(["--rescore", str(d), "--methods", "gradient",
                                                    "--json", str(out)]) == 0
  row = json.loads(out.read_text())["methods"]["gradient"]
  for key in ("localisation_error", "saliency_metric"):
    assert row[key] == shipped["methods"]["gradient"][key]
  updated = json.loads((d / "results.json").read_text())
  assert updated["methods"]["gradient"] == row and "gradient" in updated["rescored"]
  assert updated["methods"]["masking_model"] == shipped["methods"]["masking_model"]
  with pytest.raises(InputError, match="--rescore"):
    load_script("saliency_cluttered_digits").main(["--rescore", str(d), "--seed", "3", "--methods", "gradient",
                                               "--json", str(out)])
