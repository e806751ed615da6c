"""The QR pipeline end to end: shipped weights via `jaxvis faces qr`, the pure API's errors,
the corner loss, and `experiments/qr_codes.py --tiny` (one process: compiled programs are shared)."""

from __future__ import annotations

import json
import os

import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from jaxvis import cli
from jaxvis.faces import losses
from jaxvis.faces.qr import pipeline, scenes

CLI_SCENES = (0, 1, 2, 4)   # held-out scenes (never trained on); the shipped weights read all 5 codes


def test_cli_reads_codes_in_held_out_scenes_with_shipped_weights(tmp_path, capsys):
  paths, truth = [], []
  for i in CLI_SCENES:
    s = scenes.make_scene("heldout", i)
    paths.append(str(tmp_path / f"scene{i}.png"))
    Image.fromarray(s.image).save(paths[-1])
    truth.append(s)
  assert cli.main(["faces", "qr", *paths, "--json", "--draw", str(tmp_path / "drawn")]) == 0
  lines = [json.loads(l) for l in capsys.readouterr().out.strip().splitlines()]
  assert [l["image"] for l in lines] == paths
  decoded = 0
  for line, s in zip(lines, truth):
    assert set(line) == {"image", "codes", "overflow"} and line["overflow"] is False
    for code in line["codes"]:
      assert set(code) == {"status", "payload", "bytes_hex", "format", "version", "ec_level", "corners", "box",
                           "score", "source", "detector_score"}
      assert len(code["box"]) == 4 and np.asarray(code["corners"]).shape == (4, 2)
      if code["status"] == "decoded":
        assert bytes.fromhex(code["bytes_hex"]).decode() == code["payload"] and code["format"] == "QR"
    read = {c["payload"] for c in line["codes"] if c["status"] == "decoded"}
    assert read <= set(s.payloads)                       # never a wrong payload
    decoded += sum(p in read for p in s.payloads)
    # every true code is found, its corners within a few pixels in the code's own order
    for k, box in enumerate(s.boxes):
      dets = [c for c in line["codes"]
              if np.linalg.norm(np.asarray(c["corners"]) - s.corners[k], axis=-1).mean() < 6.0]
      assert dets, (line["image"], k, s.corners[k], line["codes"])
  assert decoded >= len(CLI_SCENES)                     # at least one code per scene read
  assert len(os.listdir(tmp_path / "drawn")) == len(CLI_SCENES)


def test_cli_missing_and_unreadable_images(tmp_path, capsys):
  assert cli.main(["faces", "qr", str(tmp_path / "nope.png"), "--json"]) == 2
  assert "does not exist" in capsys.readouterr().err
  bad = tmp_path / "x.png"
  bad.write_bytes(b"not an image")
  assert cli.main(["faces", "qr", str(bad), "--json"]) == 2
  assert "is not an image" in capsys.readouterr().err
  assert cli.main(["faces", "qr", str(bad), "--weights", str(tmp_path / "w.msgpack")]) == 2


def test_detect_codes_bad_input():
  weights = pipeline.load_weights()
  with pytest.raises(ValueError, match="images: expected"):
    pipeline.detect_codes(weights, np.zeros((64, 64, 3)))
  with pytest.raises(ValueError, match="weights: missing"):
    pipeline.detect_codes({"pnet": weights["pnet"]}, np.zeros((1, 64, 64, 3)))
  with pytest.raises(ValueError, match="sizes"):
    pipeline.detect_codes(weights, np.zeros((1, 64, 64, 3)), sizes=[[65, 64]])
  with pytest.raises(ValueError, match="thresholds"):
    pipeline.detect_codes(weights, np.zeros((1, 64, 64, 3)), thresholds=(0.5, 0.5))
  with pytest.raises(ValueError, match=r"images\[0\]"):
    pipeline.read_codes(weights, [np.zeros((3, 64, 64))])      # channels-first
  with pytest.raises(ValueError, match="max_codes_limit"):
    pipeline.detect_codes(weights, np.zeros((1, 64, 64, 3)), max_codes=64, max_codes_limit=16)


def test_cyclic_corner_loss_ignores_the_starting_corner_only():
  pred = jnp.asarray([[0.1, 0.9, 0.9, 0.1, 0.1, 0.1, 0.9, 0.9]])     # x1..x4, y1..y4 clockwise
  rolled = jnp.concatenate([jnp.roll(pred[:, :4], 1, -1), jnp.roll(pred[:, 4:], 1, -1)], -1)
  label = jnp.asarray([-2])
  assert float(losses.landmark_loss(pred, rolled, label, cyclic=True)) < 1e-12
  assert float(losses.landmark_loss(pred, rolled, label)) == pytest.approx(4 * 0.64, rel=1e-5)
  # a mirrored (counter-clockwise) order is not a cyclic shift: it still costs
  mirrored = jnp.concatenate([pred[:, :4][:, ::-1], pred[:, 4:][:, ::-1]], -1)
  assert float(losses.landmark_loss(pred, mirrored, label, cyclic=True)) > 0.5


def test_experiment_tiny_end_to_end(tmp_path, load_script):
  mod = load_script("qr_codes")
  out = tmp_path / "qr.json"
  weights = tmp_path / "w" / "qr_weights.msgpack"
  assert mod.main(["--tiny", "--json", str(out), "--save-weights", str(weights)]) == 0
  result = json.loads(out.read_text())
  assert set(result) == {"jaxvis", "opencv"}
  assert set(result["jaxvis"]) == {"ap", "corner_error_px", "decode_rate"}
  assert set(result["opencv"]) == {"decode_rate"}
  assert 0 <= result["jaxvis"]["ap"] <= 1 and 0 <= result["jaxvis"]["decode_rate"] <= 1
  assert 0 < result["opencv"]["decode_rate"] <= 1          # OpenCV reads some of the tiny held-out codes
  w = pipeline.load_weights(str(weights))
  assert w["onet"]["fc6_2"]["kernel"].shape == (256, 8)     # 4 corners
  assert "batch_stats" in w["verifier"]
