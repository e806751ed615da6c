"""Each family's training CLI against a damaged newest checkpoint and a changed config.

A bit-flipped or truncated newest step is moved aside with a warning and the
run resumes from the newest good step; a rerun with another configuration is
refused in one line (exit 2) instead of silently returning the old model.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import corruption  # noqa: E402
from corpus import Corpus  # noqa: E402

from jaxvis import cli  # noqa: E402


def _main(argv):
  err = io.StringIO()
  with contextlib.redirect_stderr(err):
    code = cli.main([str(a) for a in argv])
  return code, err.getvalue()


def _check_family(argv, checkpoints, more_steps, changed):
  """argv: a tiny training run; more_steps(k): args that lengthen it; changed: a config change."""
  assert _main(argv)[0] == 0
  corruption.bit_flip(corruption.latest_step_dir(checkpoints))
  with pytest.warns(UserWarning, match="cannot be trusted"):
    code, err = _main(argv + more_steps(1))
  assert code == 0, err
  corruption.truncate(corruption.latest_step_dir(checkpoints))
  with pytest.warns(UserWarning, match="cannot be trusted"):
    code, err = _main(argv + more_steps(2))
  assert code == 0, err
  assert len(os.listdir(os.path.join(os.path.dirname(checkpoints), "checkpoints-corrupt"))) == 2
  code, err = _main(argv + more_steps(2) + changed)
  assert code == 2 and "error: workdir:" in err and "different configuration" in err, err
  assert "Traceback" not in err


def test_saliency_train_cli(tmp_path):
  out = tmp_path / "sal"
  _check_family(["saliency", "train", "--out", out, "--tiny", "--steps", "8"],
                str(out / "runs" / "masking" / "checkpoints"),
                lambda k: ["--steps", str(8 + 2 * k)], ["--objective", "paper"])


def test_adjectives_rank_cli(tmp_path):
  c = Corpus(str(tmp_path / "corpus"))
  folder = c.folder_with("imgs", {f"{i}.png": c.photo for i in range(4)})
  argv = ["adjectives", "rank", "--relevant", folder, "--irrelevant", folder, "--json",
          tmp_path / "r.json", "--tiny", "--size", "28", "--workdir", tmp_path / "w", "--steps", "4"]
  _check_family(argv, str(tmp_path / "w" / "finetune" / "checkpoints"),
                lambda k: ["--steps", str(4 + 2 * k)], ["--dtype", "bfloat16"])


def test_outfits_train_cli(tmp_path):
  from jaxvis.outfits import synthetic
  data = tmp_path / "polyvore"
  synthetic.make_dataset(str(data), synthetic.SyntheticConfig(num_outfits=(60, 12, 12),
                                                              items_per_palette=3, image_size=32))
  workdir = tmp_path / "grader"
  argv = ["outfits", "train", "--data", data, "--workdir", workdir, "--tiny", "--quiet",
          "--allow-random-backbone", "--image-size", "32", "--steps", "6", "--checkpoint-every", "2",
          "--eval-every", "0"]
  _check_family(argv, str(workdir / "checkpoints"), lambda k: ["--steps", str(6 + 2 * k)],
                ["--hidden", "48"])


def test_music_train_expression_cli(tmp_path):
  from jaxvis.music import synthetic
  fer = tmp_path / "fer2013.csv"
  synthetic.write_fer2013_csv(str(fer), per_class=4, seed=0)
  argv = ["music", "train-expression", fer, "--out", tmp_path / "expr.msgpack", "--tiny",
          "--workdir", tmp_path / "w", "--batch-size", "8", "--steps", "8"]
  _check_family(argv, str(tmp_path / "w" / "checkpoints"), lambda k: ["--steps", str(8 + 2 * k)],
                ["--batch-size", "4"])


def test_faces_train_cli(tmp_path):
  from jaxvis.faces import fixtures
  ann = fixtures.write_wider(str(tmp_path / "wider"), n_images=2, seed=2, shape=(128, 160), n_faces=2)
  root = fixtures.write_celeba(str(tmp_path / "celeba"), n_images=2, seed=2, shape=(96, 96),
                               face_sizes=(56,))
  argv = ["faces", "train", "--stage", "pnet", "--workdir", tmp_path / "p", "--wider", ann, "--celeba",
          root, "--batch-size", "8", "--steps", "6", "--checkpoint-every", "2"]
  _check_family(argv, str(tmp_path / "p" / "checkpoints"), lambda k: ["--steps", str(6 + 2 * k)],
                ["--learning-rate", "0.01"])
