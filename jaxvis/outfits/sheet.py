"""A contact sheet of ranked outfits: one row per outfit, item thumbnails and the score."""

from __future__ import annotations

from typing import Sequence

from PIL import Image, ImageDraw

from jaxvis.outfits import features


def contact_sheet(outfits: Sequence, images: Sequence[str], names: Sequence[str],
                  thumb: int = 96, max_items: int = 7) -> Image.Image:
  """Draws `outfits` (recommend.Outfit) with their items' images (or names if no image)."""
  label_w = 110
  width = label_w + thumb * max_items
  sheet = Image.new("RGB", (width, max(1, len(outfits)) * (thumb + 8)), (255, 255, 255))
  draw = ImageDraw.Draw(sheet)
  for r, outfit in enumerate(outfits):
    y = r * (thumb + 8) + 4
    draw.text((6, y + thumb // 2 - 12), f"#{r + 1}", fill=(0, 0, 0))
    draw.text((6, y + thumb // 2 + 2), f"{outfit.score:.4f}", fill=(0, 0, 0))
    for c, item in enumerate(outfit.items[:max_items]):
      x = label_w + c * thumb
      if images[item]:
        tile = Image.fromarray(features.load_image(images[item], thumb - 4))
        sheet.paste(tile, (x + 2, y))
      else:
        draw.rectangle([x + 2, y, x + thumb - 2, y + thumb - 4], outline=(128, 128, 128))
        draw.text((x + 6, y + thumb // 2 - 6), str(names[item])[:12], fill=(0, 0, 0))
  return sheet


def save_contact_sheet(path: str, outfits, images, names, thumb: int = 96) -> None:
  contact_sheet(outfits, images, names, thumb).save(path)
