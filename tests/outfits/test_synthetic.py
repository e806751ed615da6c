import numpy as np

from jaxvis.outfits import polyvore, synthetic


def test_synthetic_dataset_reads_back_and_follows_its_rule(tmp_path):
  cfg = synthetic.SyntheticConfig(num_outfits=(30, 10, 10), items_per_palette=3, image_size=32)
  palette_of = synthetic.make_dataset(str(tmp_path), cfg)
  for variant in ("disjoint", "nondisjoint"):
    data = polyvore.read_polyvore_outfits(str(tmp_path), variant)
    assert [len(data.outfits[s]) for s in polyvore.SPLITS] == [30, 10, 10]
    for o in data.outfits["train"]:
      parts = [data.part_of(i) for i in o.item_ids]
      assert polyvore.is_valid_outfit(parts)
      assert len({palette_of[i] for i in o.item_ids}) == 1
    labels = [lab for lab, ids in data.compatibility["test"]]
    assert labels.count(0) == labels.count(1) == 10
    for lab, ids in data.compatibility["test"]:
      assert (len({palette_of[i] for i in ids}) == 1) == bool(lab)
    for q in data.fitb["test"]:
      own = palette_of[q.question[0]]
      assert [palette_of[c] == own for c in q.candidates].count(True) == 1
      assert palette_of[q.candidates[q.answer]] == own
  data = polyvore.read_polyvore_outfits(str(tmp_path), "disjoint")
  train_items = {i for o in data.outfits["train"] for i in o.item_ids}
  test_items = {i for o in data.outfits["test"] for i in o.item_ids}
  assert not train_items & test_items
  # names carry the clothing terms, so name-based parts agree with semantic_category
  from jaxvis.outfits import parts
  for item in data.items.values():
    assert parts.part_of_name(item.name) == item.part
  img = np.asarray(__import__("PIL.Image").Image.open(data.items[next(iter(train_items))].image))
  assert img.shape == (32, 32, 3) and img.min() < 200 and img.max() > 240
