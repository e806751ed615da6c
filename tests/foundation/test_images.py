"""The one image loader: EXIF, bit depths, float ranges, modes, size guard, clear errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from jaxvis.data import images
from jaxvis.errors import InputError


@pytest.fixture(scope="module")
def photo():
  return skdata.astronaut()[::4, ::4]  # a real 128x128 photo


def test_eight_bit_rgb_round_trips(tmp_path, photo):
  Image.fromarray(photo).save(tmp_path / "a.png")
  np.testing.assert_array_equal(images.load_image(tmp_path / "a.png"), photo)


def test_sixteen_bit_gray_is_scaled_not_clipped(tmp_path, photo):
  gray8 = photo.mean(-1)
  gray16 = (gray8 * 257).astype(np.uint16)
  Image.fromarray(gray16).save(tmp_path / "g16.png")
  assert Image.open(tmp_path / "g16.png").mode.startswith("I")
  out = images.load_image(tmp_path / "g16.png")
  assert (out == 255).mean() < 0.01  # convert("RGB") turned most pixels white
  np.testing.assert_allclose(out[..., 0], np.rint(gray8), atol=1)
  assert (out[..., 0] == out[..., 2]).all()
  hi = images.load_image(tmp_path / "g16.png", dtype=np.float32)
  np.testing.assert_allclose(hi[..., 1], gray16 * (255 / 65535), atol=1e-3)


def test_float_tiff_by_range_and_clipping_warning(tmp_path, photo):
  unit = (photo.mean(-1) / 255.0).astype(np.float32)
  Image.fromarray(unit, mode="F").save(tmp_path / "u.tif")
  np.testing.assert_allclose(images.load_image(tmp_path / "u.tif", dtype=np.float32)[..., 0],
                             unit * 255, atol=1e-3)
  wide = unit * 255.0
  wide[0, :10] = 300.0
  Image.fromarray(wide, mode="F").save(tmp_path / "w.tif")
  with pytest.warns(UserWarning, match=r"10 of .* lie outside \[0, 255\] and were clipped"):
    out = images.load_image(tmp_path / "w.tif")
  assert out[0, :10].max() == 255 and abs(int(out[50, 50, 0]) - round(wide[50, 50])) <= 1


def test_exif_orientation_is_applied(tmp_path, photo):
  wide = np.ascontiguousarray(photo[:64])  # 64 x 128
  exif = Image.Exif()
  exif[0x0112] = 6  # rotate 90 degrees clockwise to display
  Image.fromarray(wide).save(tmp_path / "r.jpg", exif=exif.tobytes(), quality=98)
  out = images.load_image(tmp_path / "r.jpg")
  assert out.shape == (128, 64, 3)
  expected = np.rot90(wide, k=-1)
  assert np.abs(out.astype(int) - expected).mean() < 4


def test_modes_alpha_palette_cmyk_bilevel(tmp_path, photo):
  rgba = np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)])
  rgba[:10, :, 3] = 0  # fully transparent rows become white
  Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
  out = images.load_image(tmp_path / "a.png")
  assert (out[:10] == 255).all() and np.array_equal(out[20:], photo[20:])
  Image.fromarray(photo).convert("P").save(tmp_path / "p.png")
  np.testing.assert_array_equal(images.load_image(tmp_path / "p.png"),
                                np.asarray(Image.open(tmp_path / "p.png").convert("RGB")))
  Image.fromarray(photo).convert("CMYK").save(tmp_path / "c.jpg", quality=98)
  assert np.abs(images.load_image(tmp_path / "c.jpg").astype(int) - photo).mean() < 8
  Image.fromarray(photo[..., 0] > 128).save(tmp_path / "b.png")
  assert set(np.unique(images.load_image(tmp_path / "b.png"))) <= {0, 255}


def test_errors_name_the_file(tmp_path, photo):
  with pytest.raises(InputError, match="missing.png: does not exist"):
    images.load_image(tmp_path / "missing.png")
  (tmp_path / "text.png").write_text("not an image")
  with pytest.raises(InputError, match="text.png: is not an image PIL can read"):
    images.load_image(tmp_path / "text.png")
  Image.fromarray(photo).save(tmp_path / "t.jpg")
  raw = (tmp_path / "t.jpg").read_bytes()
  (tmp_path / "t.jpg").write_bytes(raw[:len(raw) // 3])
  with pytest.raises(InputError, match="t.jpg: is not an image PIL can read"):
    images.load_image(tmp_path / "t.jpg")
  with pytest.raises(InputError, match="is a folder"):
    images.load_image(tmp_path)
  Image.new("L", (300, 200)).save(tmp_path / "big.png")
  with pytest.raises(InputError, match=r"300x200 = 60,000 pixels, over the limit of 50,000"):
    images.load_image(tmp_path / "big.png", max_pixels=50_000)


def test_iter_images_skips_bad_files(tmp_path, photo):
  Image.fromarray(photo).save(tmp_path / "ok.png")
  got = list(images.iter_images([tmp_path / "ok.png", tmp_path / "nope.png"]))
  assert got[0].image is not None and got[0].error is None
  assert got[1].image is None and "does not exist" in str(got[1].error)


def test_as_rgb_array_rules(photo):
  f = images.as_rgb_array
  np.testing.assert_array_equal(f(photo), photo.astype(np.float32))
  np.testing.assert_allclose(f(photo / 255.0), photo, atol=1e-3)
  np.testing.assert_allclose(f((photo.astype(np.uint16) * 257))[..., 0], photo[..., 0], atol=1e-3)
  assert f(photo[..., 0]).shape == photo.shape
  assert f(np.zeros((4, 4), bool)).max() == 0 and f(np.ones((4, 4), bool)).min() == 255
  with pytest.raises(InputError, match="img: .*channels-first"):
    f(np.moveaxis(photo, -1, 0), "img")
  with pytest.raises(InputError, match="img: contains NaN"):
    f(np.full((4, 4, 3), np.nan), "img")
  with pytest.raises(InputError, match=r"img: integer image values must lie in \[0, 255\]"):
    f(np.full((4, 4, 3), 300, np.int32), "img")
  with pytest.raises(InputError, match="img: image is empty"):
    f(np.zeros((0, 4, 3), np.uint8), "img")
  with warnings.catch_warnings():
    warnings.simplefilter("error")
    f(photo.astype(np.float32))  # values in [0, 255]: no warning


def test_resized_rgb_square_crop(tmp_path, photo):
  wide = np.concatenate([photo, np.zeros_like(photo)], axis=1)  # 128 x 256, photo on the left
  Image.fromarray(wide).save(tmp_path / "w.png")
  out = images.resized_rgb(tmp_path / "w.png", 32, square_crop=True)
  assert out.shape == (32, 32, 3)
  with pytest.raises(InputError, match="size: expected positive sides"):
    images.resized_rgb(tmp_path / "w.png", (0, 3))
