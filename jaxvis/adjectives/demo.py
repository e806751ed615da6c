"""Adjectives section of `jaxvis demo`: a controlled "adjective noun" query on real photos.

Crops of skimage/sklearn photos; the adjective ("warm") is a colour cast applied
to a known subset; P and Q are mixed at Table 1's "happy dog" purities. The
pair-wise SCAE pipeline re-ranks P and Q; the section reports the precision of
its top m against the pseudo-relevant set's (and, when not quick, the plain
SCAE's) and shows the top and bottom of the ranking.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from jaxvis.adjectives import controlled, data, search
from jaxvis.adjectives.train import SCAEConfig


def _config(quick: bool, objective: str) -> search.SearchConfig:
  if quick:
    scae = SCAEConfig(features=(6, 6), batch_size=16, greedy_steps=40, finetune_steps=40,
                      learning_rate=3e-3, objective=objective)
    return search.SearchConfig(scae=scae, kmeans_restarts=3, relevance_steps=300)
  scae = SCAEConfig(features=(12, 12), batch_size=16, greedy_steps=120, finetune_steps=120,
                    learning_rate=3e-3, objective=objective)
  return search.SearchConfig(scae=scae)


def section(report, quick: bool) -> None:
  report.section("Adjectives: pair-wise stacked conv auto-encoders")
  size, m = (28, 48) if quick else (52, 80)
  ratio_a, ratio_b = data.TABLE1["happy dog"]
  q = controlled.make_query("warm", ratio_a, ratio_b, m, size, seed=0)
  truth = np.concatenate([q.relevant_p, q.relevant_q])
  report.text(f"Query 'warm photo': {m} pseudo-relevant crops (P, {ratio_a:.1%} truly warm) and "
              f"{m} pseudo-irrelevant crops (Q, {ratio_b:.1%} truly warm) of real photos, "
              f"{size}x{size}. Pairs are matched by photo label and layout similarity; the "
              "largest K-means cluster of pair differences trains the relevance function.")
  rows = [["pseudo-relevant set P (search engine)", f"{q.relevant_p.mean():.3f}"]]
  objectives = ("pairwise",) if quick else ("plain", "pairwise")
  result = None
  for objective in objectives:
    res = search.rank_query(q.P, q.Q, _config(quick, objective),
                            labels_p=q.labels_p, labels_q=q.labels_q)
    name = "pair-wise SCAE (paper)" if objective == "pairwise" else "plain SCAE"
    rows.append([f"{name}: top {m} of P+Q re-ranked", f"{search.precision_at(res.order, truth, m):.3f}"])
    result = res
  report.table(["ranking", f"precision of the top {m}"], rows)
  _show_ranking(report, np.concatenate([q.P, q.Q]), truth, result.order)


def _show_ranking(report, images, truth, order, count: int = 8) -> None:
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  fig, axes = plt.subplots(2, count, figsize=(1.4 * count, 3.2))
  for row, idx in enumerate((order[:count], order[::-1][:count])):
    for ax, i in zip(axes[row], idx):
      ax.imshow(images[i])
      ax.set_title("warm" if truth[i] else "not", fontsize=8,
                   color="green" if truth[i] == (row == 0) else "red")
      ax.axis("off")
  axes[0, 0].text(-0.3, 0.5, "most\nrelevant", transform=axes[0, 0].transAxes, ha="right",
                  va="center", fontsize=8)
  axes[1, 0].text(-0.3, 0.5, "least\nrelevant", transform=axes[1, 0].transAxes, ha="right",
                  va="center", fontsize=8)
  report.figure(fig, "adjectives_ranking",
                "Top and bottom of the pair-wise SCAE ranking (title: the truth).")
