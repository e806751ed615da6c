import json
import os

import pytest
from hypothesis import given, settings, strategies as st

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
  with pytest.raises(FileNotFoundError, match="nondisjoint/train.json"):
    polyvore.read_polyvore_outfits(root, "nondisjoint")
  with pytest.raises(ValueError, match="variant"):
    polyvore.read_polyvore_outfits(root, "both")


def test_read_maryland_polyvore(tmp_path):
  root = str(tmp_path)
  def outfit(set_id, names):
    return {"name": "look", "set_id": set_id, "likes": 3, "views": 9,
            "items": [{"index": i + 1, "name": n, "price": 1.0, "likes": 0,
                       "image": "http://x", "categoryid": 4} for i, n in enumerate(names)]}
  _write(f"{root}/train_no_dup.json", [outfit("11", ["mini dress", "ankle boots", "candle"])])
  _write(f"{root}/valid_no_dup.json", [])
  _write(f"{root}/test_no_dup.json", [outfit("22", ["silk blouse", "pencil skirt", "pumps"])])
  _write(f"{root}/fill_in_the_blank_test.json",
         [{"question": ["22_1", "22_2"], "answer": ["11_2", "22_3"], "blank_position": 3}])
  _write(f"{root}/fashion-compatibility-prediction.txt", "1 22_1 22_2 22_3\n0 22_1 11_1\n")
  data = polyvore.read_maryland_polyvore(root)
  assert data.outfits["train"][0].item_ids == ("11_1", "11_2", "11_3")
  assert data.outfits["train"][0].likes == 3
  assert [data.items[i].part for i in ("11_1", "11_2", "11_3")] == ["full", "feet", None]
  assert data.items["22_3"].image == os.path.join(root, "images", "22", "3.jpg")
  assert data.fitb["test"][0].answer == 1 and data.fitb["test"][0].blank_position == 3
  assert data.compatibility["test"][1] == (0, ("22_1", "11_1"))


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


def test_slot_and_set_encoding():
  part_of = {"o": "outer", "u": "upper", "u2": "upper", "f": "feet", "a": "accessory",
             "b": "accessory", "c": "accessory", "d": "accessory"}
  row = {k: i for i, k in enumerate(part_of)}
  enc, dropped = encode.encode([("a", "u", "o", "b", "c", "d", "u2", "f")], part_of, row)
  assert dropped == 2                              # u2 and the fourth accessory
  assert enc["items"][0].tolist() == [row["o"], row["u"], -1, -1, row["f"], row["a"], row["b"],
                                      row["c"]]
  enc, dropped = encode.encode([("u", "f")], part_of, row, layout="set", max_items=3)
  assert enc["items"][0].tolist() == [row["u"], row["f"], -1]
  assert enc["parts"][0].tolist() == [1, 4, -1] and dropped == 0
  with pytest.raises(ValueError, match="unknown part label 'shoe'"):
    encode.encode([("x",)], {"x": "shoe"}, {"x": 0})
