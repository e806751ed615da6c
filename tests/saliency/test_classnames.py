"""`--class`: ids, names from a synset file or the checkpoint, and 'predicted'."""

import argparse

import numpy as np
import pytest
from PIL import Image

from jaxvis.errors import InputError
from jaxvis.saliency import classnames, cli, digits, pretrained


def test_synset_file_and_resolution(tmp_path):
  path = tmp_path / "LOC_synset_mapping.txt"
  path.write_text("n01440764 tench, Tinca tinca\nn01443537 goldfish, Carassius auratus\n\n")
  table = classnames.read_synset_file(str(path))
  assert table == (["n01440764", "n01443537"], ["tench, Tinca tinca", "goldfish, Carassius auratus"])
  for spec, want in (("1", 1), ("goldfish", 1), ("Tinca tinca", 0), ("n01443537", 1), ("predicted", None)):
    assert classnames.resolve(spec, 2, table) == want
  with pytest.raises(InputError, match="no class named 'gold'.*close: goldfish"):
    classnames.resolve("gold", 2, table)
  with pytest.raises(InputError, match="expected 0..1, got 2"):
    classnames.resolve("2", 2, table)
  with pytest.raises(InputError, match="--synsets"):
    classnames.resolve("tench", 2, None)
  plain = tmp_path / "names.txt"
  plain.write_text("cat\ndog\ncat\n")
  with pytest.raises(InputError, match="'cat' is listed twice"):
    classnames.read_synset_file(str(plain))
  assert classnames.from_metadata({"synsets": ["n1", "n2"]}) == (["n1", "n2"], ["n1", "n2"])


def test_cli_explains_the_predicted_class_with_its_name(tmp_path, capsys):
  parser = argparse.ArgumentParser()
  cli.register(parser)
  x, y, _ = digits.make_cluttered_digits(1, "test", seed=5)
  img = tmp_path / "digit.png"
  Image.fromarray((x[0] * 255).astype(np.uint8)).save(img)
  names = tmp_path / "digits.txt"
  names.write_text("\n".join(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]))
  models, _ = pretrained.load()
  want = int(np.argmax(np.asarray(models.classifier.apply(models.classifier_variables,
                                                          cli.load_image(str(img), (64, 64))))))
  args = parser.parse_args(["explain", str(img), "--class", "predicted", "--synsets", str(names),
                            "--checkpoint", pretrained.DIRECTORY, "--out", str(tmp_path / "o.png")])
  assert args.func(args) == 0
  out = capsys.readouterr().out
  assert f"class {want} ({names.read_text().split()[want]}), predicted with p = " in out
  args = parser.parse_args(["explain", str(img), "--class", "seven", "--synsets", str(names),
                            "--checkpoint", pretrained.DIRECTORY, "--out", str(tmp_path / "o.png")])
  assert args.func(args) == 0 and "class 7 (seven)" in capsys.readouterr().out
