"""Writes the bundled named-colour tables `jaxvis/assets/colors/{xkcd,css}.csv`.

Source: matplotlib's `_color_data` module, which carries the XKCD colour
survey's `rgb.txt` (Randall Munroe, 2010, released under CC0 1.0) and the CSS
Color Module Level 4 named colours. Run once; the CSVs are committed.

    python scripts/build_color_tables.py
"""

from __future__ import annotations

import csv
import os

from matplotlib import _color_data


def write(path: str, items) -> None:
  with open(path, "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f)
    w.writerow(["name", "hex"])
    for name, hexv in items:
      w.writerow([name, hexv.lower()])


def main() -> None:
  out = os.path.join(os.path.dirname(__file__), "..", "jaxvis", "assets", "colors")
  os.makedirs(out, exist_ok=True)
  xkcd = sorted((k.removeprefix("xkcd:"), v) for k, v in _color_data.XKCD_COLORS.items())
  css = sorted(_color_data.CSS4_COLORS.items())
  write(os.path.join(out, "xkcd.csv"), xkcd)
  write(os.path.join(out, "css.csv"), css)
  print(f"wrote {len(xkcd)} xkcd and {len(css)} css colours to {out}")


if __name__ == "__main__":
  main()
