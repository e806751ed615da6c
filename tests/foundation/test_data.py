"""Data layer: loader determinism, resumable state, per-process slices, tfds image-folder builder."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from jaxvis import data
from jaxvis.data import tfds_image_folder


def _src(n=20):
  return data.ArraySource({"i": np.arange(n), "x": np.arange(n, dtype=np.float32) * 2})


def test_loader_epochs_cover_every_record_and_reshuffle():
  it = data.loader(_src(20), batch_size=5, seed=3)
  epoch1 = np.concatenate([next(it)["i"] for _ in range(4)])
  epoch2 = np.concatenate([next(it)["i"] for _ in range(4)])
  assert sorted(epoch1) == list(range(20)) and sorted(epoch2) == list(range(20))
  assert list(epoch1) != list(epoch2)
  assert list(epoch1) != list(range(20))


def test_loader_state_resumes_exactly():
  it = data.loader(_src(20), batch_size=4, seed=1, map_fn=lambda r, rng: {**r, "n": rng.random()})
  for _ in range(3):
    next(it)
  state = it.get_state()
  expected = [next(it) for _ in range(4)]
  again = data.loader(_src(20), batch_size=4, seed=1, map_fn=lambda r, rng: {**r, "n": rng.random()})
  again.set_state(state)
  for e in expected:
    b = next(again)
    np.testing.assert_array_equal(b["i"], e["i"])
    np.testing.assert_array_equal(b["n"], e["n"])
    np.testing.assert_array_equal(b["x"], 2 * b["i"])


def test_loader_worker_processes_give_the_same_batches_and_resume():
  """worker_count=2: decoding in spawned grain workers changes neither the batches nor the state
  round trip (a per-record map that pickles: a module-level function)."""
  ref = data.loader(_src(24), batch_size=4, seed=2, num_epochs=1, map_fn=_double)
  want = [b["i"] for b in ref]
  it = data.loader(_src(24), batch_size=4, seed=2, num_epochs=1, map_fn=_double, worker_count=2)
  try:
    got = [next(it) for _ in range(2)]
    state = it.get_state()
    got += list(it)
  finally:
    it.close()
  assert len(got) == len(want) == 6
  for b, w in zip(got, want):
    np.testing.assert_array_equal(b["i"], w)
    np.testing.assert_array_equal(b["y"], 2 * b["x"])
  again = data.loader(_src(24), batch_size=4, seed=2, num_epochs=1, map_fn=_double, worker_count=2)
  try:
    again.set_state(state)
    np.testing.assert_array_equal(next(again)["i"], want[2])
  finally:
    again.close()
  with pytest.raises(ValueError, match="worker_count"):
    data.loader(_src(), batch_size=4, worker_count=-1)


def _double(record):
  return {**record, "y": record["x"] * 2}


def test_process_slices_are_disjoint_and_cover():
  seen = []
  for p in range(2):
    it = data.loader(_src(20), batch_size=4, shuffle=False, num_epochs=1, process_index=p,
                     process_count=2)
    batches = list(it)
    assert all(len(b["i"]) == 2 for b in batches)
    seen.append(np.concatenate([b["i"] for b in batches]))
  assert set(seen[0]).isdisjoint(seen[1])
  assert sorted(np.concatenate(seen)) == list(range(20))


def test_loader_and_source_errors():
  with pytest.raises(ValueError, match="batch_size"):
    data.loader(_src(), batch_size=3, process_count=2)
  with pytest.raises(ValueError, match="same length"):
    data.ArraySource({"a": np.zeros(3), "b": np.zeros(4)})
  with pytest.raises(ValueError, match="empty"):
    data.loader(data.ArraySource({"a": np.zeros(0)}), batch_size=2)


def test_tfds_image_folder_builder_round_trip(tmp_path):
  manual = tmp_path / "manual"
  colours = {"warm_sunset": (230, 120, 40), "cold_sunset": (40, 90, 220)}
  for name, rgb in colours.items():
    os.makedirs(manual / name)
    for k in range(3):
      img = np.zeros((6 + k, 9, 3), np.uint8) + np.array(rgb, np.uint8)
      Image.fromarray(img).save(manual / name / f"{k}.png")
  (manual / "cold_sunset" / "notes.txt").write_text("not an image")
  builder = tfds_image_folder.prepare(
      tfds_image_folder.image_folder_builder(str(tmp_path / "tfds"), str(manual)))
  source = builder.as_data_source()["train"]
  assert len(source) == 6
  reopened = tfds_image_folder.read(str(tmp_path / "tfds"))
  names = builder.info.features["label"].names
  assert names == ["cold_sunset", "warm_sunset"]
  records = [tfds_image_folder.decode(reopened[i]) for i in range(len(reopened))]
  for r in records:
    expected = colours[names[int(r["label"])]]
    np.testing.assert_array_equal(r["image"][0, 0], expected)
    assert r["image"].shape[1:] == (9, 3)
  it = data.loader(reopened, batch_size=3, map_fn=lambda r: {"label": r["label"]})
  assert next(it)["label"].shape == (3,)


def test_tfds_image_folder_errors(tmp_path):
  with pytest.raises(FileNotFoundError, match="manual_dir"):
    tfds_image_folder.list_image_folder(str(tmp_path / "missing"))
  (tmp_path / "empty").mkdir()
  with pytest.raises(ValueError, match="no class sub-folders"):
    tfds_image_folder.list_image_folder(str(tmp_path / "empty"))
  with pytest.raises(FileNotFoundError, match="data_dir"):
    tfds_image_folder.read(str(tmp_path / "nothing"))
