import dataclasses

import numpy as np
import pytest
from PIL import Image

from jaxvis.outfits import features

CFG = features.FeatureConfig(backbone="tiny", image_size=32, batch_size=4)


def _images(tmp_path, n):
  rng = np.random.default_rng(0)
  paths = {}
  for i in range(n):
    arr = np.full((40, 40, 3), 255, np.uint8)
    arr[8:32, 8:32] = rng.integers(0, 255, 3)
    paths[f"item{i}"] = str(tmp_path / f"item{i}.jpg")
    Image.fromarray(arr).save(paths[f"item{i}"])
  return paths


def test_cache_extracts_once_and_the_mean_image_feature_is_of_the_given_images(tmp_path):
  paths = _images(tmp_path, 6)
  extractor = features.FeatureExtractor(CFG)
  cache = features.FeatureCache(str(tmp_path / "cache"), CFG)
  cache.update({k: paths[k] for k in list(paths)[:5]}, extractor, progress=False)
  imgs = np.stack([features.load_image(paths[k], 32) for k in paths])
  direct = extractor(imgs)
  assert direct.shape == (6, 256)              # ResNetTiny pool5 width
  np.testing.assert_allclose(cache.table, direct[:5], rtol=1e-4, atol=1e-4)
  mean_img = np.round(imgs[:3].astype(np.float64).mean(0)).astype(np.uint8)
  mean = features.mean_image_feature([paths[f"item{i}"] for i in range(3)], CFG, extractor)
  np.testing.assert_allclose(mean, extractor(mean_img[None])[0], rtol=1e-4, atol=1e-4)
  assert not np.allclose(mean, direct[:3].mean(0))   # the feature of the mean image
  assert not hasattr(cache, "mean_feature")          # nothing run-specific in a shared cache

  reopened = features.FeatureCache(str(tmp_path / "cache"), CFG)
  reopened.update(paths, extractor, progress=False)           # only item5 is new
  assert reopened.ids == [f"item{i}" for i in range(6)]
  np.testing.assert_allclose(reopened.table[5], direct[5], rtol=1e-4, atol=1e-4)
  table, row = reopened.lookup(["item3"])
  np.testing.assert_allclose(table[row["item3"]], direct[3], rtol=1e-4, atol=1e-4)
  with pytest.raises(ValueError, match="no cached feature"):
    reopened.lookup(["nope"])
  # the same id from another dataset's image is refused, not served a stale feature
  other = tmp_path / "other"
  other.mkdir()
  Image.open(paths["item1"]).save(other / "item1.jpg")
  with pytest.raises(ValueError, match=r"'item1' is cached from .*item1.jpg, not .*other"):
    reopened.update({"item1": str(other / "item1.jpg")}, extractor, progress=False)
  with pytest.raises(ValueError, match="use another cache folder"):
    features.FeatureCache(str(tmp_path / "cache"), dataclasses.replace(CFG, seed=1))


def test_bad_images_and_config(tmp_path):
  bad = tmp_path / "bad.jpg"
  bad.write_text("not an image")
  with pytest.raises(ValueError, match=r"bad.jpg: is not an image"):
    features.load_image(str(bad), 32)
  with pytest.raises(ValueError, match=r"missing.jpg: does not exist"):
    features.load_image(str(tmp_path / "missing.jpg"), 32)
  with pytest.raises(ValueError, match="--weights: no backbone weight file.*--allow-random-backbone"):
    features.check_backbone("", allow_random=False)
  features.check_backbone("", allow_random=True)
  with pytest.raises(ValueError, match="backbone: expected one of"):
    features.FeatureExtractor(dataclasses.replace(CFG, backbone="vgg"))
  with pytest.raises(ValueError, match="weights: file not found"):
    features.FeatureExtractor(dataclasses.replace(CFG, weights=str(tmp_path / "w.h5")))


def test_random_init_is_seeded():
  from jaxvis.nn import resnet
  model = resnet.ResNetTiny(num_classes=None)
  a = features.random_init(model, 32, 0)
  b = features.random_init(model, 32, 0)
  c = features.random_init(model, 32, 1)
  ka = a["params"]["stem_conv"]["kernel"]
  assert np.array_equal(ka, b["params"]["stem_conv"]["kernel"])
  assert not np.array_equal(ka, c["params"]["stem_conv"]["kernel"])
  assert abs(float(np.std(ka)) * np.sqrt(7 * 7 * 3) - 1) < 0.15      # LeCun normal scale
  assert np.all(a["batch_stats"]["stem_bn"]["var"] == 1)
