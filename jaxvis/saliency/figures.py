"""Pictures: the Figure-1 overlay (image, mask, image x mask, image x inverted mask) and the
Figure-5 grid (input and one column per saliency method)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw


def _to_uint8(image: np.ndarray) -> np.ndarray:
  """(H, W, C) float in [0, 1] (or uint8) -> (H, W, 3) uint8."""
  image = np.asarray(image)
  if image.dtype != np.uint8:
    image = (np.clip(image, 0.0, 1.0) * 255).round().astype(np.uint8)
  if image.ndim == 2:
    image = image[..., None]
  if image.shape[-1] == 1:
    image = np.repeat(image, 3, axis=-1)
  return image


def heatmap(mask: np.ndarray) -> np.ndarray:
  """(H, W) in [0, 1] -> (H, W, 3) uint8, a dark-blue -> yellow colour map."""
  import matplotlib
  cmap = matplotlib.colormaps["viridis"]
  return (cmap(np.clip(np.asarray(mask, np.float32), 0, 1))[..., :3] * 255).astype(np.uint8)


def overlay_panels(image: np.ndarray, mask: np.ndarray, alpha: float = 0.6) -> np.ndarray:
  """Figure 1's row: input | mask over the image | image x mask | image x (1 - mask)."""
  img = _to_uint8(image).astype(np.float32)
  m = np.clip(np.asarray(mask, np.float32), 0, 1)[..., None]
  over = (1 - alpha) * img + alpha * heatmap(m[..., 0]).astype(np.float32)
  panels = [img, over, img * m, img * (1 - m)]
  return np.concatenate([p.round().astype(np.uint8) for p in panels], axis=1)


def save_overlay(path: str, image: np.ndarray, mask: np.ndarray, scale: int = 1) -> None:
  row = overlay_panels(image, mask)
  im = Image.fromarray(row)
  if scale > 1:
    im = im.resize((im.width * scale, im.height * scale), Image.NEAREST)
  im.save(path)


def method_grid(images: np.ndarray, maps: dict[str, np.ndarray], scale: int = 2,
                boxes: np.ndarray | None = None) -> Image.Image:
  """Figure 5: one row per image; columns = input, then each method's map.

  Args:
    images: (N, H, W, C) in [0, 1].
    maps: method name -> (N, H, W) in [0, 1] (insertion order = column order).
    boxes: optional (N, K, 4) ground-truth boxes drawn on the input column.
  """
  n, h, w = images.shape[:3]
  cols = 1 + len(maps)
  label_h = 14
  grid = Image.new("RGB", (cols * w * scale, label_h + n * h * scale), (255, 255, 255))
  draw = ImageDraw.Draw(grid)
  for j, name in enumerate(["input", *maps]):
    draw.text((j * w * scale + 2, 1), name[: max(4, w * scale // 6)], fill=(0, 0, 0))
  for i in range(n):
    tiles = [_to_uint8(images[i])] + [heatmap(np.asarray(m[i])) for m in maps.values()]
    for j, tile in enumerate(tiles):
      im = Image.fromarray(tile).resize((w * scale, h * scale), Image.NEAREST)
      if j == 0 and boxes is not None:
        d = ImageDraw.Draw(im)
        for x1, y1, x2, y2 in np.asarray(boxes[i]):
          d.rectangle([x1 * scale, y1 * scale, (x2 + 1) * scale - 1, (y2 + 1) * scale - 1], outline=(255, 0, 0))
      grid.paste(im, (j * w * scale, label_h + i * h * scale))
  return grid


def save_grid(path: str, images: np.ndarray, maps: dict[str, np.ndarray], scale: int = 2,
              boxes: Sequence | None = None) -> None:
  method_grid(images, maps, scale, None if boxes is None else np.asarray(boxes)).save(path)
