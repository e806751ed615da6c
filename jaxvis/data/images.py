"""The one image loader: every family and CLI decodes images here.

`load_image(path)` returns an (H, W, 3) RGB array whatever the file holds:

* EXIF orientation is applied (a phone photo comes out upright, so boxes are in
  the frame the user sees).
* 8-bit images keep their values; 16-bit images are scaled by 255/65535 (not
  clipped: `convert("RGB")` turns most of a 16-bit photo white); float images
  are read by range (max <= 1: [0, 1], else [0, 255]) and values outside that
  range are clipped with a warning that says how many.
* Gray, bilevel, palette, CMYK and YCbCr images are converted; images with
  transparency (RGBA, LA, palette + transparency) are composited over white
  (what a viewer shows), not stripped of alpha.
* A size guard refuses images over `max_pixels` before decoding them.
* Every failure is an `InputError` naming the file.

`as_rgb_array(x, name)` applies the same rules to arrays and PIL images passed
to the library's entry points, and names the argument in its errors.
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Iterable, Iterator, NamedTuple

import numpy as np

from jaxvis.errors import InputError

# 2^28 pixels (~16k x 16k, 805 MB as uint8 RGB): far above any camera frame
# (a 12000 x 9000 scan is 108 M) but below what would exhaust memory silently.
DEFAULT_MAX_PIXELS = 1 << 28

_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


def load_image(path: str | os.PathLike, *, dtype: Any = np.uint8,
               max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
  """Decodes an image file into an (H, W, 3) RGB array.

  Args:
    path: any format PIL reads (JPEG, PNG 8/16-bit, TIFF incl. float, WebP, BMP...).
    dtype: np.uint8 (rounded) or np.float32 (values in [0, 255], keeping
      16-bit and float precision).
    max_pixels: refuse larger images (checked from the header, before
      decoding); None disables the guard.

  Returns:
    An (H, W, 3) array of `dtype`, EXIF orientation applied.

  Raises:
    InputError: the file is missing, not an image, truncated, too large, or
      holds NaN / infinite values.
  """
  from PIL import Image, ImageOps
  where = os.fspath(path)
  if os.path.isdir(where):
    raise InputError(where, "is a folder, expected an image file")
  try:
    with warnings.catch_warnings():
      warnings.simplefilter("ignore", Image.DecompressionBombWarning)
      im = _open_unguarded(where)
    with im:
      width, height = im.size
      if max_pixels is not None and width * height > max_pixels:
        raise InputError(where, f"image is {width}x{height} = {width * height:,} pixels, over the "
                                f"limit of {max_pixels:,} (raise max_pixels to read it)")
      im.load()
      im = ImageOps.exif_transpose(im) or im
      if np.dtype(dtype) == np.uint8 and _is_plain_8bit(im):
        return np.asarray(im.convert("RGB"))  # no float copy (a 4000x3000 photo: 145 MB less)
      rgb = _pil_to_rgb_float(im, where)
  except FileNotFoundError:
    raise InputError(where, "does not exist") from None
  except PermissionError:
    raise InputError(where, "is not readable (permission denied)") from None
  except InputError:
    raise
  except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
    # PIL raises UnidentifiedImageError (an OSError) for non-images and
    # OSError / SyntaxError / ValueError for truncated or corrupt ones.
    raise InputError(where, f"is not an image PIL can read ({type(e).__name__}: {e})") from None
  return _cast(rgb, dtype)


def _open_unguarded(path: str):
  """Image.open without PIL's global decompression-bomb limit (we apply our own)."""
  from PIL import Image
  try:
    return Image.open(path)
  except Image.DecompressionBombError:
    old = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
      return Image.open(path)
    finally:
      Image.MAX_IMAGE_PIXELS = old


def _is_plain_8bit(im) -> bool:
  """8-bit images without transparency, for which convert("RGB") is exact."""
  if im.mode in ("RGB", "L", "1", "CMYK", "YCbCr", "LAB", "HSV"):
    return True
  return im.mode == "P" and "transparency" not in im.info


def _pil_to_rgb_float(im, where: str) -> np.ndarray:
  """A decoded PIL image -> (H, W, 3) float32 in [0, 255]."""
  mode = im.mode
  if mode in _SIXTEEN_BIT_MODES:
    gray = np.asarray(im).astype(np.float32) * (255.0 / 65535.0)
    return np.repeat(gray[..., None], 3, axis=-1)
  if mode == "I":  # 32-bit int gray; PNG and TIFF use it for 16-bit samples
    raw = np.asarray(im).astype(np.float64)
    gray = _integer_gray_to_unit(raw, where)
    return np.repeat(gray[..., None], 3, axis=-1)
  if mode == "F":
    gray = float_to_0_255(np.asarray(im, np.float32), where)
    return np.repeat(gray[..., None], 3, axis=-1)
  if mode == "P" and "transparency" in im.info:
    im = im.convert("RGBA")
    mode = "RGBA"
  if mode in _ALPHA_MODES:
    rgba = np.asarray(im.convert("RGBA")).astype(np.float32)
    return _over_white(rgba)
  return np.asarray(im.convert("RGB")).astype(np.float32)


def _over_white(rgba: np.ndarray) -> np.ndarray:
  """(..., 4) RGBA in [0, 255] composited over a white background (what a viewer shows)."""
  alpha = rgba[..., 3:] / 255.0
  return rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)


def _integer_gray_to_unit(raw: np.ndarray, where: str) -> np.ndarray:
  lo, hi = (float(raw.min()), float(raw.max())) if raw.size else (0.0, 0.0)
  if lo >= 0 and hi <= 65535:
    return (raw * (255.0 / 65535.0)).astype(np.float32)
  scaled = (raw - lo) / max(hi - lo, 1.0) * 255.0
  warnings.warn(f"{where}: 32-bit integer samples in [{lo:g}, {hi:g}] do not fit 16 bits; "
                f"scaled from their own range to [0, 255]", stacklevel=3)
  return scaled.astype(np.float32)


def float_to_0_255(values: np.ndarray, where: str) -> np.ndarray:
  """Float samples -> [0, 255] by range: max <= 1 means [0, 1], else [0, 255].

  Values outside the chosen range are clipped, with a warning giving their share.

  Raises:
    InputError: NaN or infinite values.
  """
  values = np.asarray(values, np.float32)
  if not np.isfinite(values).all():
    raise InputError(where, "contains NaN or infinite values")
  if values.size == 0:
    return values
  unit = float(values.max()) <= 1.0
  scaled = values * 255.0 if unit else values
  outside = int(np.count_nonzero((scaled < 0.0) | (scaled > 255.0)))
  if outside:
    span = "[0, 1]" if unit else "[0, 255]"
    warnings.warn(f"{where}: {outside} of {values.size} float samples ({outside / values.size:.1%}) "
                  f"lie outside {span} and were clipped", stacklevel=3)
  return np.clip(scaled, 0.0, 255.0)


def _cast(rgb: np.ndarray, dtype: Any) -> np.ndarray:
  dtype = np.dtype(dtype)
  if dtype == np.uint8:
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
  if dtype == np.float32:
    return rgb.astype(np.float32)
  raise InputError("dtype", f"expected uint8 or float32, got {dtype}")


def as_rgb_array(image: Any, name: str = "image", *, dtype: Any = np.float32) -> np.ndarray:
  """An array or PIL image given to a library function -> (H, W, 3) in [0, 255].

  Accepts (H, W), (H, W, 1), (H, W, 3) and (H, W, 4) arrays: uint8; uint16
  (scaled by 255/65535); other integers in [0, 255]; bool (0 / 255); float by
  range as `float_to_0_255`; RGBA composited over white. PIL images of any mode
  follow `load_image`'s rules (without EXIF, which only files carry).

  Raises:
    InputError: naming `name`, for channels-first or other shapes, non-numeric
      dtypes, integers out of range, NaN or infinite values, or an empty image.
  """
  if hasattr(image, "mode") and hasattr(image, "convert"):  # a PIL image
    return _cast(_pil_to_rgb_float(image, name), dtype)
  arr = np.asarray(image)
  if arr.dtype == bool:
    arr = arr.astype(np.float32) * 255.0
  elif arr.dtype == np.uint16:
    arr = arr.astype(np.float32) * (255.0 / 65535.0)
  elif np.issubdtype(arr.dtype, np.integer):
    if arr.size and (arr.min() < 0 or arr.max() > 255):
      raise InputError(name, f"integer image values must lie in [0, 255] (or use uint16), got "
                             f"[{arr.min()}, {arr.max()}] in dtype {arr.dtype}")
    arr = arr.astype(np.float32)
  elif np.issubdtype(arr.dtype, np.floating):
    arr = float_to_0_255(arr, name)
  else:
    raise InputError(name, f"expected a numeric image array, got dtype {arr.dtype}")
  if arr.ndim == 3 and arr.shape[-1] not in (1, 3, 4) and arr.shape[0] in (1, 3, 4):
    raise InputError(name, f"got shape {arr.shape}, which looks channels-first (C, H, W); expected "
                           f"channels-last (H, W, C): use np.moveaxis(image, 0, -1)")
  if arr.ndim == 2:
    arr = arr[..., None]
  if arr.ndim != 3 or arr.shape[-1] not in (1, 3, 4):
    raise InputError(name, f"expected (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got shape {arr.shape}")
  if arr.shape[0] == 0 or arr.shape[1] == 0:
    raise InputError(name, f"image is empty (shape {arr.shape})")
  if arr.shape[-1] == 1:
    arr = np.repeat(arr, 3, axis=-1)
  elif arr.shape[-1] == 4:
    arr = _over_white(arr)
  return _cast(arr, dtype)


class LoadedImage(NamedTuple):
  """One entry of `iter_images`: the array, or the error that stopped it."""
  path: str
  image: np.ndarray | None
  error: InputError | None


def iter_images(paths: Iterable[str], **kwargs) -> Iterator[LoadedImage]:
  """Loads each path in turn; a bad file yields its error instead of stopping the run."""
  for path in paths:
    try:
      yield LoadedImage(os.fspath(path), load_image(path, **kwargs), None)
    except InputError as e:
      yield LoadedImage(os.fspath(path), None, e)


def resize_rgb(rgb: np.ndarray, size: tuple[int, int] | int) -> np.ndarray:
  """Bilinear (PIL) resize of an (H, W, 3) float32 array to `size` ((height, width) or a side).

  Each channel is resized in float ('F' mode), so 16-bit and float detail survive.
  """
  from PIL import Image
  h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
  if h <= 0 or w <= 0:
    raise InputError("size", f"expected positive sides, got {(h, w)}")
  rgb = np.asarray(rgb, np.float32)
  channels = [np.asarray(Image.fromarray(np.ascontiguousarray(rgb[..., c])).resize((w, h), Image.BILINEAR))
              for c in range(rgb.shape[-1])]
  return np.stack(channels, axis=-1)


def resized_rgb(source: str | os.PathLike | np.ndarray, size: tuple[int, int] | int, *,
                square_crop: bool = False, **kwargs) -> np.ndarray:
  """An image file (`load_image`) or an in-memory image (`as_rgb_array`), optionally
  cropped to its centred square, then bilinearly resized; uint8.

  Args:
    size: (height, width) or a square side.
    square_crop: crop the largest centred square first (keeps the aspect ratio).
  """
  if isinstance(source, np.ndarray) or hasattr(source, "mode"):  # an array or a PIL image
    rgb = as_rgb_array(source, "image", dtype=np.float32)
  else:
    rgb = load_image(source, dtype=np.float32, **kwargs)
  if square_crop:
    h, w = rgb.shape[:2]
    s = min(h, w)
    rgb = rgb[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
  return _cast(resize_rgb(rgb, size), np.uint8)
