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
    assert set(line) == {"image", "faces", "overflow"} and line["overflow"] is False
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


def test_cli_real_files_exif_16_bit_and_a_bad_file_skipped(tmp_path, capsys):
  """EXIF orientation applied (boxes in the upright frame), a 16-bit PNG scaled (not clipped
  white), an unreadable file reported on stderr and skipped while the others are detected."""
  astro = samples.astronaut_variants()["scale_320"]
  up, rot, deep, bad = (str(tmp_path / n) for n in ("up.png", "rot.jpg", "deep16.png", "bad.png"))
  Image.fromarray(astro).save(up)
  exif = Image.Exif()
  exif[0x0112] = 6                                   # "rotate 90 CW to display": stored turned CCW
  Image.fromarray(np.ascontiguousarray(np.rot90(astro))).save(rot, quality=95, exif=exif)
  gray = astro.mean(-1).round().astype(np.uint16) * 257
  Image.fromarray(gray).save(deep)                   # uint16 -> a 16-bit grayscale PNG
  with open(bad, "wb") as f:
    f.write(b"not an image")
  rc = cli.main(["faces", "detect", up, bad, rot, deep, "--json"])
  out = capsys.readouterr()
  assert rc == 1                                     # partial failure, the rest processed
  assert f"error: {bad}: is not an image" in out.err
  lines = {json.loads(l)["image"]: json.loads(l)["faces"] for l in out.out.strip().splitlines()}
  assert set(lines) == {up, rot, deep} and all(len(f) == 1 for f in lines.values())
  ref = np.array(lines[up][0]["box"])
  for other in (rot, deep):
    box = np.array(lines[other][0]["box"])
    inter = np.prod(np.clip(np.minimum(ref[2:], box[2:]) - np.maximum(ref[:2], box[:2]), 0, None))
    union = np.prod(ref[2:] - ref[:2]) + np.prod(box[2:] - box[:2]) - inter
    assert inter / union > 0.85, (other, ref, box)


def test_cli_only_bad_files(tmp_path, capsys):
  bad = tmp_path / "x.png"
  bad.write_bytes(b"not an image")
  assert cli.main(["faces", "detect", str(bad), str(tmp_path / "missing.jpg"), "--json"]) == 1
  err = capsys.readouterr().err
  assert "is not an image" in err and "missing.jpg: does not exist" in err


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
