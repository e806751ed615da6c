"""`jaxvis faces detect` (JSON schema, --draw) and the demo section."""

import json
import os

import numpy as np
from PIL import Image

from jaxvis import cli
from jaxvis.faces import samples


def test_cli_detect_json_and_draw(tmp_path, capsys):
  astro = samples.astronaut_variants()["scale_320"]
  mosaic = samples.lfw_mosaic(0)[0]
  paths = [str(tmp_path / "astro.png"), str(tmp_path / "mosaic.jpg"), str(tmp_path / "tiny.png")]
  Image.fromarray(astro).save(paths[0])
  Image.fromarray(mosaic).save(paths[1], quality=95)
  Image.fromarray(np.zeros((8, 8), np.uint8)).save(paths[2])
  out_dir = tmp_path / "drawn"
  assert cli.main(["faces", "detect", *paths, "--json", "--draw", str(out_dir)]) == 0
  lines = [json.loads(l) for l in capsys.readouterr().out.strip().splitlines()]
  assert [l["image"] for l in lines] == paths
  assert [len(l["faces"]) for l in lines] == [1, 4, 0]
  for line in lines:
    assert set(line) == {"image", "faces"}
    for face in line["faces"]:
      assert set(face) == {"box", "score", "landmarks"}
      x1, y1, x2, y2 = face["box"]
      assert 0 <= x1 < x2 <= 319 and 0 <= y1 < y2 <= 319 and 0.7 < face["score"] <= 1.0
      assert len(face["landmarks"]) == 5 and all(len(p) == 2 for p in face["landmarks"])
  # the astronaut's eyes lie inside its box, left eye left of the right eye
  face = lines[0]["faces"][0]
  (lx, ly), (rx, ry) = face["landmarks"][:2]
  assert face["box"][0] < lx < rx < face["box"][2] and face["box"][1] < ly < face["box"][3]
  drawn = sorted(os.listdir(out_dir))
  assert drawn == ["astro_faces.png", "mosaic_faces.png", "tiny_faces.png"]
  assert np.any(np.asarray(Image.open(out_dir / "astro_faces.png")) != astro)


def test_cli_bad_file(tmp_path, capsys):
  bad = tmp_path / "x.png"
  bad.write_bytes(b"not an image")
  assert cli.main(["faces", "detect", str(bad), "--json"]) == 2
  assert "is not an image" in capsys.readouterr().err


def test_demo_section_quick(tmp_path):
  from jaxvis import demo
  from jaxvis.faces import demo as faces_demo
  report = demo.Report(str(tmp_path))
  faces_demo.section(report, quick=True)
  assert os.path.exists(tmp_path / "faces_astronaut.png")
  html = "".join(report.sections[0].parts)
  assert "lfw mosaic 0: 4 face(s)" in html and "astronaut: 1 face(s)" in html
  # the QR section follows: held-out scenes drawn with the shipped weights
  qr = "".join(report.sections[-1].parts)
  assert "held-out scene 0:" in qr and os.path.exists(tmp_path / "qr_heldout_0.png")
