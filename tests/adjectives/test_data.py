"""VSO / MVSO readers on generated fixtures in those layouts, and P/Q at Table 1 purities."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from jaxvis.adjectives import data

ANPS = {"happy_dog": 30, "sad_dog": 20, "cute_dog": 25, "clear_sky": 6, "excited_dog": 4}


@pytest.fixture(scope="module")
def vso_root(tmp_path_factory):
  root = tmp_path_factory.mktemp("vso")
  rng = np.random.default_rng(0)
  for anp, n in ANPS.items():
    folder = root / "bi_concepts1553" / anp
    folder.mkdir(parents=True)
    for i in range(n):
      arr = rng.integers(0, 255, (30 + i % 5, 40, 3), dtype=np.uint8)
      Image.fromarray(arr).save(folder / f"{1000 + i}_flickr.jpg")
  (root / "bi_concepts1553" / "README.txt").write_text("not an ANP")
  return root


def test_read_vso_layout(vso_root):
  anps = data.read_vso(str(vso_root))
  assert {k: len(v) for k, v in anps.items()} == ANPS
  assert data.read_vso(str(vso_root / "bi_concepts1553")).keys() == anps.keys()
  rel, irr = data.relevant_and_irrelevant(anps, "happy dog", exclude_adjectives=["excited"])
  assert len(rel) == 30 and len(irr) == 45
  assert all("/happy_dog/" not in p and "/excited_dog/" not in p for p in irr)
  with pytest.raises(ValueError, match="query: no ANP"):
    data.relevant_and_irrelevant(anps, "angry_dog")
  with pytest.raises(ValueError, match="root: no <adjective>_<noun>"):
    data.read_vso(str(vso_root / "bi_concepts1553" / "happy_dog"))


def test_table1_purities_are_exact(vso_root):
  anps = data.read_vso(str(vso_root))
  sets = data.table1_query_sets(anps, "happy_dog", m=20, seed=1)
  assert len(sets.P) == len(sets.Q) == 20
  assert sets.relevant_p.sum() == round(0.785 * 20) and sets.relevant_q.sum() == round(0.18 * 20)
  assert not set(sets.P) & set(sets.Q)
  truth = {p: "/happy_dog/" in p for p in sets.P + sets.Q}
  assert [truth[p] for p in sets.P] == sets.relevant_p.tolist()
  assert [truth[p] for p in sets.Q] == sets.relevant_q.tolist()
  with pytest.raises(ValueError, match="needs 38 relevant and 42 irrelevant items, got 30"):
    data.table1_query_sets(anps, "happy_dog", m=40)
  with pytest.raises(ValueError, match="Table 1"):
    data.table1_query_sets(anps, "sad_dog", m=5)
  with pytest.raises(ValueError, match="ratio_a"):
    data.build_query_sets([1], [2], 1.5, 0.1, 1)


def test_load_images_crops_and_resizes(vso_root):
  files = data.list_images(str(vso_root / "bi_concepts1553" / "sad_dog"))
  x = data.load_images(files[:3], size=28)
  assert x.shape == (3, 28, 28, 3) and x.dtype == np.float32
  assert 0 <= x.min() and x.max() <= 1 and x.std() > 0.1
  bad = vso_root / "broken.jpg"
  bad.write_bytes(b"not a jpeg")
  with pytest.raises(ValueError, match="broken.jpg: is not an image"):
    data.load_images([str(bad)])
  with pytest.raises(ValueError, match="is not a folder"):
    data.list_images(str(vso_root / "missing"))


def test_read_mvso_csv_with_and_without_header(tmp_path):
  with_header = tmp_path / "english.csv"
  with_header.write_text(
      "ANP,image_url,sentiment\n"
      "happy_dog,https://farm1.staticflickr.com/1/111_a.jpg,1.2\n"
      "happy_dog,https://farm1.staticflickr.com/1/112_b.jpg,0.9\n"
      "sad_dog,https://farm1.staticflickr.com/1/113_c.jpg,-1.0\n")
  anps = data.read_mvso_csv(str(with_header))
  assert anps == {"happy_dog": ["https://farm1.staticflickr.com/1/111_a.jpg",
                                "https://farm1.staticflickr.com/1/112_b.jpg"],
                  "sad_dog": ["https://farm1.staticflickr.com/1/113_c.jpg"]}
  no_header = tmp_path / "plain.csv"
  no_header.write_text("happy dog,http://x/1.jpg\nfluffy_clouds,http://x/2.jpg?zz=1\n")
  (tmp_path / "imgs").mkdir()
  (tmp_path / "imgs" / "2.jpg").write_bytes(b"")
  local = data.read_mvso_csv(str(no_header), image_dir=str(tmp_path / "imgs"), require_files=True)
  assert local == {"fluffy_clouds": [str(tmp_path / "imgs" / "2.jpg")]}
  bad = tmp_path / "bad.csv"
  bad.write_text("concept,score\nhappy_dog,1\n")
  with pytest.raises(ValueError, match="image column"):
    data.read_mvso_csv(str(bad))
  worse = tmp_path / "worse.csv"
  worse.write_text("happydog,http://x/1.jpg\n")
  with pytest.raises(ValueError, match=r"worse.csv:1: expected 'adjective_noun'"):
    data.read_mvso_csv(str(worse))
