"""`jaxvis demo`: runs each family on bundled real data and writes an HTML report.

Each family contributes `jaxvis/<family>/demo.py` with
`section(report: Report, quick: bool) -> None`, which adds its own section
(figures are written with `report.figure(...)`). A family without a demo module
is listed as absent; a family whose section fails is reported with its error
and the demo goes on with the others.
"""

from __future__ import annotations

import html
import importlib
import os
import time
import traceback
from dataclasses import dataclass, field

from tqdm.auto import tqdm

from jaxvis.errors import InputError

SECTIONS = ("foundation", "saliency", "faces", "outfits", "adjectives", "music")


@dataclass
class Section:
  title: str
  parts: list[str] = field(default_factory=list)


class Report:
  """Collects HTML sections and PNG figures under `out_dir`."""

  def __init__(self, out_dir: str):
    self.out_dir = out_dir
    os.makedirs(out_dir, exist_ok=True)
    self.sections: list[Section] = []

  def section(self, title: str) -> Section:
    s = Section(title)
    self.sections.append(s)
    return s

  def text(self, body: str) -> None:
    self.sections[-1].parts.append(f"<p>{html.escape(body)}</p>")

  def html(self, fragment: str) -> None:
    self.sections[-1].parts.append(fragment)

  def table(self, header: list[str], rows: list[list]) -> None:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in r) + "</tr>"
                   for r in rows)
    self.sections[-1].parts.append(f"<table><tr>{head}</tr>{body}</table>")

  def figure(self, fig, name: str, caption: str = "") -> str:
    """Saves a matplotlib figure as `<name>.png` and adds it to the current section."""
    import matplotlib.pyplot as plt
    path = os.path.join(self.out_dir, f"{name}.png")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    self.image(f"{name}.png", caption)
    return path

  def image(self, filename: str, caption: str = "") -> None:
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    self.sections[-1].parts.append(
        f'<figure><img src="{html.escape(filename)}" style="max-width:100%">{cap}</figure>')

  def write(self) -> str:
    body = "".join(f"<h2>{html.escape(s.title)}</h2>" + "".join(s.parts) for s in self.sections)
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>jaxvis demo</title>"
            "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}"
            "pre{background:#f4f4f4;padding:6px}</style></head><body>"
            f"<h1>jaxvis demo</h1>{body}</body></html>")
    path = os.path.join(self.out_dir, "index.html")
    with open(path, "w") as f:
      f.write(page)
    return path


def _fmt(value) -> str:
  if isinstance(value, float):
    return f"{value:.4g}"
  return str(value)


def _run_section(report: Report, name: str, quick: bool) -> str:
  module_name = "jaxvis.nn.demo" if name == "foundation" else f"jaxvis.{name}.demo"
  try:
    module = importlib.import_module(module_name)
  except ModuleNotFoundError as e:
    if e.name != module_name:
      raise
    return "absent"
  start = time.time()
  try:
    module.section(report, quick=quick)
  except Exception:  # a failing family must not hide the others' results
    report.section(f"{name} (failed)")
    report.html(f"<pre>{html.escape(traceback.format_exc())}</pre>")
    return "failed"
  return f"ok in {time.time() - start:.1f}s"


def main(out_dir: str = "demo-report", sections=None, quick: bool = False) -> int:
  names = list(sections) if sections else list(SECTIONS)
  unknown = [n for n in names if n not in SECTIONS]
  if unknown:
    raise InputError("--only", f"unknown section(s) {unknown}; expected some of {list(SECTIONS)}")
  report = Report(out_dir)
  status = {}
  for name in tqdm(names, desc="jaxvis demo", unit="section"):
    status[name] = _run_section(report, name, quick)
    tqdm.write(f"[demo] {name}: {status[name]}")
  path = report.write()
  print(f"wrote {path}")
  return 1 if "failed" in status.values() else 0
