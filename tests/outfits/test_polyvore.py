import json
import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from jaxvis.errors import InputError
from jaxvis.outfits import encode, negatives, polyvore


def _write(path, obj):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w") as f:
    if isinstance(obj, str):
      f.write(obj)
    else:
      json.dump(obj, f)


def test_read_polyvore_outfits_published_layout(tmp_path):
  root = str(tmp_path)
  meta = {"1": {"semantic_category": "tops", "title": "white tee", "url_name": "x"},
          "2": {"semantic_category": "bottoms", "title": "", "url_name": "blue-jeans"},
          "3": {"semantic_category": "shoes", "title": "boots"},
          "4": {"semantic_category": "shoes", "title": "heels"},
          "5": {"semantic_category": "jewellery", "title": "ring"}}
  _write(f"{root}/polyvore_item_metadata.json", meta)
  train = [{"set_id": "100", "items": [{"item_id": "1", "index": 1}, {"item_id": "2", "index": 2},
                                       {"item_id": "3", "index": 3}]}]
  test = [{"set_id": "200", "items": [{"item_id": "4", "index": 1}, {"item_id": "5", "index": 2}]}]
  for split, obj in (("train", train), ("valid", []), ("test", test)):
    _write(f"{root}/disjoint/{split}.json", obj)
  _write(f"{root}/disjoint/compatibility_test.txt", "1 200_1 200_2\n0 100_3 200_2\n")
  _write(f"{root}/disjoint/fill_in_blank_test.json",
         [{"question": ["200_2"], "answers": ["100_3", "200_1"], "blank_position": 1}])
  data = polyvore.read_polyvore_outfits(root, "disjoint")
  assert data.outfits["train"][0] == polyvore.Outfit("100", ("1", "2", "3"))
  assert data.items["2"].part == "lower" and data.items["2"].name == "blue-jeans"
  assert data.items["5"].image == os.path.join(root, "images", "5.jpg")
  assert data.compatibility["test"] == [(1, ("4", "5")), (0, ("3", "5"))]
  q = data.fitb["test"][0]
  assert q.question == ("5",) and q.candidates == ("3", "4") and q.answer == 1
  assert "valid" not in data.fitb

  _write(f"{root}/disjoint/compatibility_test.txt", "1 200_1 999_9\n")
  with pytest.raises(ValueError, match="unknown outfit item '999_9'"):
    polyvore.read_polyvore_outfits(root, "disjoint")
  with pytest.raises(InputError, match="nondisjoint/train.json: file not found"):
    polyvore.read_polyvore_outfits(root, "nondisjoint")
  with pytest.raises(ValueError, match="variant"):
    polyvore.read_polyvore_outfits(root, "both")


def _maryland_outfit(set_id, items):
  """An outfit record as in {train,valid,test}_no_dup.json of polyvore.tar.gz (README fields)."""
  return {"name": "look", "views": 9, "likes": 3, "date": "two days ago",
          "set_url": f"http://www.polyvore.com/look/set?id={set_id}",
          "image": f"http://ak1.polyvoreimg.com/cgi/img-set/cid/{set_id}/id/x/size/y.jpg",
          "set_id": set_id, "desc": "",
          "items": [{"index": index, "name": name, "price": 1.0, "likes": 0, "categoryid": cid,
                     "image": f"http://img1.polyvoreimg.com/cgi/img-thing?.out=jpg&size=m&tid={tid}"}
                    for index, name, cid, tid in items]}


@pytest.mark.parametrize("fitb_name, comp_name", [
    ("fill_in_blank_test.json", "fashion_compatibility_prediction.txt"),       # the scripts'
    ("fill_in_the_blank_test.json", "fashion-compatibility-prediction.txt")])  # the README's
def test_read_maryland_polyvore_published_layout(tmp_path, fitb_name, comp_name):
  root = str(tmp_path)
  # indices need not be consecutive (non-fashion items were deleted); tid 501 (the same boots)
  # appears in both outfits; categoryid decides the part: 4 Day Dresses, 261 Ankle Booties,
  # 140 Candles, 17 Blouses, 7 Skirts, 43 Pumps, 222 Nail Polish (named like a garment),
  # 69 Socks ("Boot socks" must not be feet), 2 Clothing (generic: the name decides).
  _write(f"{root}/train_no_dup.json", [_maryland_outfit("11", [
      (1, "mini dress", 4, 500), (2, "ankle boots", 261, 501), (4, "scented candle", 140, 502)])])
  _write(f"{root}/valid_no_dup.json", [])
  _write(f"{root}/test_no_dup.json", [_maryland_outfit("22", [
      (1, "silk blouse", 17, 600), (2, "pencil skirt", 7, 601), (3, "pumps", 43, 602),
      (5, "ankle boots", 261, 501), (6, "Essie top coat", 222, 603), (7, "Boot socks", 69, 604),
      (8, "wool coat", 2, 605)])])
  # FITB: "answers", the correct one from the question's own set (first in the real files)
  _write(f"{root}/{fitb_name}",
         [{"question": ["22_1", "22_2"], "answers": ["22_3", "11_2", "11_4"],
           "blank_position": 3}])
  _write(f"{root}/{comp_name}", "1 22_1 22_2 22_3\n0 22_1 11_1 22_6\n")
  data = polyvore.read_maryland_polyvore(root)
  assert data.outfits["train"][0].item_ids == ("500", "501", "502")
  assert data.outfits["test"][0].item_ids == ("600", "601", "602", "501", "603", "604", "605")
  assert data.outfits["train"][0].likes == 3
  assert len(data.items) == 9                                # keyed by tid: 501 once
  parts = {i: data.items[i].part for i in data.items}
  assert parts == {"500": "full", "501": "feet", "502": None, "600": "upper", "601": "lower",
                   "602": "feet", "603": None, "604": None, "605": "outer"}
  assert data.items["501"].image == os.path.join(root, "images", "11", "2.jpg")
  assert data.items["602"].image == os.path.join(root, "images", "22", "3.jpg")
  q = data.fitb["test"][0]
  assert q.question == ("600", "601") and q.candidates == ("602", "501", "502")
  assert q.answer == 0 and q.blank_position == 3
  assert data.compatibility["test"] == [(1, ("600", "601", "602")), (0, ("600", "500", "603"))]


def test_maryland_item_without_tid_keeps_the_occurrence_name():
  assert polyvore.maryland_item_id({"index": 3, "image": "http://x/y.jpg"}, "77") == "77_3"
  assert polyvore.maryland_item_id({"index": 3}, "77") == "77_3"


def test_read_crawled_sets_and_validity_filter(tmp_path):
  path = str(tmp_path / "sets.jsonl")
  sets = [
      {"set_id": "a", "likes": 2, "items": [{"item_id": "1", "name": "black dress"},
                                            {"item_id": "2", "name": "red pumps"},
                                            {"item_id": "3", "name": "scented candle"}]},
      {"set_id": "b", "likes": 0, "items": [{"item_id": "1", "name": "black dress"},
                                            {"item_id": "2", "name": "red pumps"}]},
      {"set_id": "c", "likes": 5, "items": [{"item_id": "4", "name": "white shirt"},
                                            {"item_id": "2", "name": "red pumps"}]},
  ]
  _write(path, "\n".join(json.dumps(s) for s in sets))
  items, outfits = polyvore.read_crawled_sets(path)
  assert items["3"].part is None and items["4"].part == "upper"
  assert items["1"].image == os.path.join(str(tmp_path), "images", "1.jpg")
  kept = polyvore.valid_outfits(outfits, items, min_likes=1)
  assert [o.set_id for o in kept] == ["a"]          # b has no likes, c misses the lower body
  assert kept[0].item_ids == ("1", "2")              # the candle is trimmed
  _write(path, '{"set_id": "x", "items": [{"item_id": "1"}]}')
  with pytest.raises(ValueError, match="has no 'name' field"):
    polyvore.read_crawled_sets(path)


@pytest.mark.parametrize("parts, valid", [
    (["upper", "lower", "feet"], True),
    (["full", "feet", "accessory", "accessory", "accessory"], True),
    (["full", "feet"] + ["accessory"] * 4, False),
    (["upper", "upper", "lower", "feet"], False),
    (["outer", "upper", "feet"], False),
    (["upper", "lower"], False),
])
def test_is_valid_outfit(parts, valid):
  assert polyvore.is_valid_outfit(parts) == valid
  assert polyvore.is_valid_outfit(["upper", "lower"], require_feet=False)


def test_disjoint_split_follows_algorithm_1():
  outfits = [["a", "b"], ["b", "c"], ["x", "y"], ["y", "z"], ["c", "y"], ["p"], ["q"]]
  a, b, c = polyvore.disjoint_split(outfits, seed=0)
  assert sorted(a + b + c) == list(range(len(outfits)))
  assert not ({i for k in a for i in outfits[k]} & {i for k in b for i in outfits[k]})
  with pytest.raises(TypeError, match="outfits"):
    polyvore.disjoint_split("abc", 0)
  with pytest.raises(TypeError, match=r"outfits\[1\]"):
    polyvore.disjoint_split([["a"], 3], 0)
  assert polyvore.disjoint_split([], 0) == ([], [], [])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 40), min_size=1, max_size=6), max_size=60),
       st.integers(0, 2**31 - 1))
def test_disjoint_split_never_shares_items(outfits, seed):
  a, b, c = polyvore.disjoint_split(outfits, seed)
  assert sorted(a + b + c) == list(range(len(outfits)))
  items_a = {i for k in a for i in outfits[k]}
  items_b = {i for k in b for i in outfits[k]}
  assert not items_a & items_b
  for k in c:   # C holds only outfits touching both sides
    assert set(outfits[k]) & items_a and set(outfits[k]) & items_b
  if outfits:
    assert a


def test_negatives_swap_within_part_and_pool():
  part_of = {"u1": "upper", "u2": "upper", "u3": "upper", "l1": "lower", "l2": "lower",
             "f1": "feet", "a1": "accessory", "a2": "accessory", "a3": "accessory"}
  outfits = [("u1", "l1", "f1", "a1", "a2"), ("u2", "l2", "f1", "a3"), ("u3", "l1", "f1")]
  negs = negatives.make_negatives(outfits, part_of, seed=3)
  assert len(negs) == 2 * len(outfits)
  for n, neg in enumerate(negs):
    pos = outfits[n // 2]
    assert [part_of[i] for i in neg] == [part_of[i] for i in pos]   # composition kept
    assert len(set(neg)) == len(neg)
    for old, new in zip(pos, neg):
      if part_of[old] != "feet":                   # feet has a single item in the pool
        assert new != old
  assert negs == negatives.make_negatives(outfits, part_of, seed=3)
  with pytest.raises(ValueError, match="per_positive"):
    negatives.make_negatives(outfits, part_of, per_positive=0)


def test_slot_and_set_encoding_score_every_item():
  part_of = {"o": "outer", "u": "upper", "u2": "upper", "f": "feet", "a": "accessory",
             "b": "accessory", "c": "accessory", "d": "accessory"}
  row = {k: i for i, k in enumerate(part_of)}
  enc = encode.encode([("a", "u", "o", "b", "c", "d", "u2", "f"), ("u", "f")], part_of, row)
  # two tops and four accessories: two slot rows, each item in at least one
  assert enc["group"].tolist() == [0, 0, 1]
  assert enc["items"][0].tolist() == [row["o"], row["u"], -1, -1, row["f"], row["a"], row["b"],
                                      row["c"]]
  assert enc["items"][1].tolist() == [row["o"], row["u2"], -1, -1, row["f"], row["d"], row["a"],
                                      row["b"]]
  assert enc["items"][2].tolist() == [-1, row["u"], -1, -1, row["f"], -1, -1, -1]
  assert set(enc["items"][:2].ravel()) - {-1} == {row[i] for i in part_of}
  assert encode.group_mean(np.array([0.2, 0.6, 0.9]), enc["group"], 2).tolist() == \
      pytest.approx([0.4, 0.9])
  # set layout: no truncation, the longest outfit sets the width
  long = tuple(part_of)
  enc = encode.encode([("u", "f"), long], part_of, row, layout="set", max_items=3)
  assert enc["items"].shape == (2, 8)
  assert enc["items"][0].tolist() == [row["u"], row["f"]] + [-1] * 6
  assert enc["items"][1].tolist() == [row[i] for i in long]
  assert enc["parts"][0, :3].tolist() == [1, 4, -1]
  with pytest.raises(ValueError, match="unknown part label 'shoe'"):
    encode.encode([("x",)], {"x": "shoe"}, {"x": 0})
  with pytest.raises(InputError, match="'candle' has no part"):
    encode.encode([("u", "candle")], part_of, row)
