import pytest

from jaxvis.outfits import parts


@pytest.mark.parametrize("name, part", [
    ("Topshop denim jacket", "outer"), ("silk shirt dress", "full"), ("patent dress shoes", "feet"),
    ("Maxi Skirt", "lower"), ("suede ankle boots", "feet"), ("gold ring", "accessory"),
    ("striped t-shirt", "upper"), ("skinny jeans", "lower"), ("leather belts", "accessory"),
    ("wool coats", "outer"), ("Chanel No 5 perfume", None), ("", None),
    # a non-clothing head noun wins over the garment words before it
    ("Essie top coat nail polish", None), ("Boot socks", None), ("Essie top coat", None),
    ("cropped top", "upper"), ("Knee High Boots", "feet")])
def test_part_of_name(name, part):
  assert parts.part_of_name(name) == part


def test_dictionary_is_about_as_rich_as_the_papers_and_covers_every_part():
  assert len(parts.CLOTHING_TERMS) >= 121
  assert set(parts.CLOTHING_TERMS.values()) == set(parts.PARTS)


def test_semantic_categories():
  assert parts.part_of_semantic_category("all-body") == "full"
  assert parts.part_of_semantic_category("Jewellery") == "accessory"
  with pytest.raises(ValueError, match="semantic_category: unknown category 'furniture'"):
    parts.part_of_semantic_category("furniture")


def test_slots_are_the_papers():
  assert parts.SLOTS == ("outer", "upper", "lower", "full", "feet") + ("accessory",) * 3
  with pytest.raises(ValueError, match="unknown part label 'hat'"):
    parts.check_part("hat")


def test_maryland_category_ids():
  assert parts.part_of_maryland_category(4, "") == "full"            # Day Dresses
  assert parts.part_of_maryland_category("261", "") == "feet"        # Ankle Booties (as text)
  assert parts.part_of_maryland_category(222, "red dress") is None   # Nail Polish, whatever the name
  assert parts.part_of_maryland_category(69, "boot socks") is None   # Socks
  assert parts.part_of_maryland_category(2, "silk blouse") == "upper"  # generic "Clothing": name
  assert parts.part_of_maryland_category(None, "boots") == "feet"
