"""Cluttered digits, and the CIFAR-10 / ImageNet readers on fixtures in the published formats."""

import os
import pickle

import numpy as np
import pytest
from PIL import Image

from jaxvis.saliency import cifar10, digits, imagenet


def test_cluttered_digits_boxes_and_labels():
  cfg = digits.ClutteredDigitsConfig(num_fragments=0, noise_std=0.0, colour=False)
  x, y, b = digits.make_cluttered_digits(20, "test", seed=3, cfg=cfg)
  assert x.shape == (20, 64, 64, 1) and y.shape == (20,) and b.shape == (20, 1, 4)
  for img, box in zip(x[..., 0], b[:, 0]):
    x1, y1, x2, y2 = box.astype(int)
    ink = img > 0.2
    assert ink[y1:y2 + 1, x1:x2 + 1].sum() == ink.sum()  # all ink inside the box
    assert ink[y1, x1:x2 + 1].any() and ink[y2, x1:x2 + 1].any()  # and the box is tight
    assert ink[y1:y2 + 1, x1].any() and ink[y1:y2 + 1, x2].any()
  xc, _, _ = digits.make_cluttered_digits(4, "train", seed=0)
  assert xc.shape == (4, 64, 64, 3) and 0.0 <= xc.min() and xc.max() <= 1.0
  src_train, _ = digits.source_split("train")
  src_test, _ = digits.source_split("test")
  assert len(src_train) + len(src_test) == 1797
  with pytest.raises(ValueError, match="split"):
    digits.make_cluttered_digits(2, "val")


def test_cifar10_reader_matches_the_published_layout(tmp_path):
  d = str(tmp_path / "cifar-10-batches-py")
  cifar10.write_fixture(d, images_per_batch=6)
  # decode one record by hand: row = 1024 R, 1024 G, 1024 B, each 32x32 row-major
  with open(os.path.join(d, "data_batch_2"), "rb") as f:
    raw = pickle.load(f, encoding="bytes")
  x, y = cifar10.load_split(d, "train", as_float=False)
  assert x.shape == (30, 32, 32, 3) and x.dtype == np.uint8 and y.shape == (30,)
  rec = raw[b"data"][1]
  assert x[7, 3, 5, 0] == rec[3 * 32 + 5] and x[7, 3, 5, 2] == rec[2048 + 3 * 32 + 5]
  assert y[7] == raw[b"labels"][1]
  xt, yt = cifar10.load_split(d, "test")
  assert xt.shape == (6, 32, 32, 3) and xt.dtype == np.float32 and xt.max() <= 1.0
  assert cifar10.label_names(d)[0] == "airplane"
  with pytest.raises(ValueError, match="cifar-10-batches-py"):
    cifar10.load_split(str(tmp_path), "train")


def test_imagenet_reader_boxes_and_classes(tmp_path):
  root = str(tmp_path / "ILSVRC")
  imagenet.write_fixture(root, ["n01440764", "n01443537"], train_per_class=2, num_val=3, image_size=(80, 60))
  assert imagenet.read_synsets(root) == ["n01440764", "n01443537"]
  x, y = imagenet.load_train(root, size=32)
  assert x.shape == (4, 32, 32, 3) and list(y) == [0, 0, 1, 1]
  xv, yv, bv, vv = imagenet.load_val(root, size=40)
  assert xv.shape == (3, 40, 40, 3) and list(yv) == [0, 1, 0]
  (w, h), names, raw = imagenet.parse_annotation(os.path.join(root, "Annotations", "CLS-LOC", "val",
                                                              "ILSVRC2012_val_00000002.xml"))
  assert (w, h) == (80, 60) and names == ["n01443537"]
  x1, y1, x2, y2 = raw[0]
  np.testing.assert_allclose(bv[1, 0], [x1 * 0.5, y1 * 40 / 60, (x2 + 1) * 0.5 - 1, (y2 + 1) * 40 / 60 - 1], rtol=1e-5)
  assert vv[:, 0].all() and not vv[:, 1:].any()
  # the box really surrounds the drawn square: its pixels are brighter than the background
  img = np.asarray(Image.open(os.path.join(root, "Data", "CLS-LOC", "val", "ILSVRC2012_val_00000002.JPEG")))
  inside = img[int(y1) + 2:int(y2) - 1, int(x1) + 2:int(x2) - 1].mean()
  assert inside > img.mean() + 20
  bad = tmp_path / "bad.xml"
  bad.write_text("<annotation><object>")
  with pytest.raises(ValueError, match="bad.xml: is not valid XML"):
    imagenet.parse_annotation(str(bad))
