"""Draws one recommendation on the arousal-valence plane (matplotlib)."""

from __future__ import annotations

from jaxvis.music.songs import Songs

_QUADRANT_BOX = {1: (0, 0), 2: (-1, 0), 3: (-1, -1), 4: (0, -1)}


def plot_av(result: dict, songs: Songs, title: str = "", ax=None):
  """Words (sized by weight), cluster centres, the chosen quadrant and the songs.

  Args:
    result: `Recommendation.to_json()`.
    songs: the song table (all songs drawn faintly, recommended ones marked).
    title: figure title.
    ax: an existing matplotlib axis (a new figure otherwise).

  Returns:
    the matplotlib Figure.
  """
  import matplotlib
  matplotlib.use("Agg", force=False)
  import matplotlib.patches as patches
  import matplotlib.pyplot as plt

  if ax is None:
    fig, ax = plt.subplots(figsize=(6.4, 6.4))
  else:
    fig = ax.figure
  q = result.get("quadrant")
  if q:
    x0, y0 = _QUADRANT_BOX[q]
    ax.add_patch(patches.Rectangle((x0, y0), 1, 1, color="tab:blue", alpha=0.08, zorder=0))
    ax.add_patch(patches.Rectangle((x0, y0), 1, 1, fill=False, edgecolor="tab:blue", lw=2))
  ax.add_patch(patches.Circle((0, 0), 1, fill=False, ls=":", color="0.6"))
  ax.axhline(0, color="0.3", lw=0.8)
  ax.axvline(0, color="0.3", lw=0.8)
  ax.scatter(songs.va[:, 0], songs.va[:, 1], s=6, c="0.75", label="songs", zorder=1)

  labelled = set()
  for w in result.get("words", []):
    ax.scatter(w["x"], w["y"], s=20 + 80 * w["weight"], c="tab:orange", alpha=0.6, zorder=2)
    if w["word"] not in labelled:
      ax.annotate(w["word"], (w["x"], w["y"]), fontsize=7, alpha=0.8,
                  xytext=(3, 3), textcoords="offset points")
      labelled.add(w["word"])
  for c in result.get("clusters", []):
    if c["size"]:
      ax.scatter(*c["center"], marker="X", s=120, c="tab:green", edgecolors="k", zorder=3)
  index = {s: i for i, s in enumerate(songs.ids)}
  for sid in result.get("songs_without_narrowing", []):
    v, a = songs.va[index[sid]]
    ax.scatter(v, a, marker="o", s=70, facecolors="none", edgecolors="tab:purple", zorder=3)
  for sid in result.get("songs", []):
    v, a = songs.va[index[sid]]
    ax.scatter(v, a, marker="*", s=220, c="tab:red", edgecolors="k", zorder=4)
    ax.annotate(str(sid), (v, a), fontsize=8, color="tab:red", xytext=(5, -10),
                textcoords="offset points")
  handles = [
      plt.Line2D([], [], ls="", marker="o", color="tab:orange", label="impression words"),
      plt.Line2D([], [], ls="", marker="X", color="tab:green", label="cluster centres"),
      plt.Line2D([], [], ls="", marker="o", mfc="none", color="tab:purple",
                 label="songs, no narrowing"),
      plt.Line2D([], [], ls="", marker="*", color="tab:red", label="songs, narrowed"),
  ]
  ax.legend(handles=handles, loc="lower left", fontsize=7)
  ax.set_xlim(-1.05, 1.05)
  ax.set_ylim(-1.05, 1.05)
  ax.set_aspect("equal")
  ax.set_xlabel("valence")
  ax.set_ylabel("arousal")
  ax.set_title(title or (f"quadrant {q}" if q else "nothing extracted"))
  return fig


def save_plot(result: dict, songs: Songs, path: str, title: str = "") -> None:
  import matplotlib.pyplot as plt
  fig = plot_av(result, songs, title)
  fig.savefig(path, dpi=110, bbox_inches="tight")
  plt.close(fig)
