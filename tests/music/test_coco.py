"""COCO results readers (RLE, polygons, categories, captions) and the folder batch command."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from jaxvis import cli
from jaxvis.errors import InputError
from jaxvis.music import coco


@pytest.mark.parametrize("counts, text", [
    ([1, 2, 1], "121"),
    ([1, 2, 1, 3], "1211"),          # 4th count stored as 3 - 2
    ([5, 10, 5, 2], "5:5H"),         # 10 -> ':'; 2 - 10 = -8 -> 'H' (sign bit 0x10)
    ([0, 40], "0X1"),                # 40 = 8 + 1 * 32: group 8 with 0x20 -> 'X', then 1 -> '1'
])
def test_rle_string_codec_matches_hand_computed_values(counts, text):
  assert coco.rle_counts_to_string(counts) == text
  assert coco.rle_counts_from_string(text) == counts


def test_rle_runs_go_down_columns_starting_with_background():
  # 3 x 2 mask, column-major: column 0 = [0, 1, 1], column 1 = [1, 0, 0]
  m = coco.decode_rle({"size": [3, 2], "counts": [1, 3, 2]})
  np.testing.assert_array_equal(m, [[0, 1], [1, 0], [1, 0]])
  assert coco.encode_rle(m) == {"size": [3, 2], "counts": coco.rle_counts_to_string([1, 3, 2])}
  full = np.ones((2, 2), bool)
  assert coco.rle_counts_from_string(coco.encode_rle(full)["counts"]) == [0, 4]


def test_rle_round_trip_on_random_masks():
  rng = np.random.default_rng(0)
  for shape in ((1, 1), (7, 5), (64, 48), (200, 300)):
    m = rng.uniform(size=shape) < rng.uniform(0.05, 0.95)
    np.testing.assert_array_equal(coco.decode_rle(coco.encode_rle(m)), m)
  with pytest.raises(ValueError, match="sum"):
    coco.decode_rle({"size": [2, 2], "counts": [1, 1]})


def test_polygon_mask_and_area():
  m = coco.polygons_to_mask([[2, 2, 12, 2, 12, 7, 2, 7]], 10, 16)
  assert m[2:8, 2:13].all() and m.sum() == 6 * 11        # PIL fills the outline too
  from jaxvis.music.extract import Detection
  d = Detection("x", (2, 2, 12, 7), polygons=((2, 2, 12, 2, 12, 7, 2, 7),))
  assert d.area() == 50.0 and d.region(10, 16).sum() == 66


def _write(p, obj):
  p.write_text(json.dumps(obj))
  return str(p)


def test_results_files_and_batch_command(tmp_path, songs, capsys):
  folder = tmp_path / "imgs"
  folder.mkdir()
  img = np.zeros((40, 60, 3), np.uint8)
  img[:, 30:] = (200, 30, 30)
  Image.fromarray(img).save(folder / "000000000139.png")
  Image.fromarray(img).save(folder / "000000000285.png")
  (folder / "broken.png").write_bytes(b"not a png")
  mask = np.zeros((40, 60), bool)
  mask[5:35, 32:58] = True
  cats = _write(tmp_path / "instances.json", {"categories": [{"id": 1, "name": "Person"},
                                                              {"id": 18, "name": "dog"}]})
  dets = _write(tmp_path / "dets.json", [
      {"image_id": 139, "category_id": 1, "bbox": [32, 5, 26, 30], "score": 0.9,
       "segmentation": coco.encode_rle(mask)},
      {"image_id": 139, "category_id": 18, "bbox": [0, 0, 10, 10], "score": 0.8,
       "segmentation": [[0, 0, 9, 0, 9, 9, 0, 9]]},
      {"image_id": 285, "category_id": 18, "bbox": [0, 0, 5, 5], "score": 0.1}])
  caps = _write(tmp_path / "caps.json", [{"image_id": 139, "caption": "a happy man with a dog"}])
  info = coco.load_categories(cats)
  got = coco.load_detection_results(dets, info, score_threshold=0.3)
  assert [d.label for d in got[139]] == ["person", "dog"] and 285 not in got
  np.testing.assert_array_equal(got[139][0].mask, mask)
  assert got[139][0].box == (32, 5, 58, 35)
  assert got[139][1].region(40, 60).sum() == 100
  assert coco.load_caption_results(caps) == {139: "a happy man with a dog"}

  out = tmp_path / "out.jsonl"
  rc = cli.main(["music", "batch", str(folder), "--songs", _songs_csv(tmp_path, songs),
                 "--coco-detections", dets, "--coco-categories", cats, "--coco-captions", caps,
                 "--no-faces", "--out", str(out)])
  assert rc == 2                                   # the broken file is reported, the rest done
  lines = {json.loads(ln)["image"].rsplit("/", 1)[-1]: json.loads(ln)
           for ln in out.read_text().splitlines()}
  assert set(lines) == {"000000000139.png", "000000000285.png", "broken.png"}
  first = lines["000000000139.png"]
  assert first["image_id"] == 139 and first["quadrant"] in (1, 2, 3, 4)
  assert "happy" in first["caption"] and first["colors"][0]["label"] == "person"
  assert "error" in lines["broken.png"]


def _songs_csv(tmp_path, songs):
  p = tmp_path / "songs.csv"
  p.write_text("song_id,valence,arousal\n" + "".join(
      f"{i},{v!r},{a!r}\n" for i, (v, a) in zip(songs.ids, songs.va.tolist())))
  return str(p)


@pytest.mark.parametrize("obj, problem", [
    ([{"image_id": 1, "category_id": 7, "bbox": [0, 0, 1, 1]}], "not in the categories"),
    ([{"image_id": 1, "category_id": 1, "bbox": [0, 0, -1, 1]}], "negative"),
    ([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": "nan"}], "finite"),
    ([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1],
       "segmentation": {"size": [2, 2], "counts": "1"}}], "sum"),
])
def test_bad_detection_results_name_the_record(tmp_path, obj, problem):
  cats = coco.load_categories(_write(tmp_path / "c.json", [{"id": 1, "name": "cat"}]))
  with pytest.raises(InputError, match=problem) as e:
    coco.load_detection_results(_write(tmp_path / "d.json", obj), cats)
  assert "d.json: [0]" in e.value.where
