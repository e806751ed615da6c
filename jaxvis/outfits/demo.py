"""`jaxvis demo` outfits section: synthetic Polyvore data -> grader -> closet recommendations.

No Polyvore images ship with any package, so the demo writes the synthetic
dataset (garments whose compatibility is a shared hue family), trains the
paper's slot grader on it, reports the paper's metrics plus compatibility AUC
and FITB, and recommends the best outfits from a closet of test items.
"""

from __future__ import annotations

import os
import time

import numpy as np

from jaxvis.outfits import closet as closet_lib
from jaxvis.outfits import baselines, polyvore, recommend, sheet, synthetic, training


def section(report, quick: bool) -> None:
  report.section("Outfits: grading and closet recommendation (Tangseng et al. 2017)")
  root = os.path.join(report.out_dir, "outfits_data")
  n_train = 300 if quick else 400
  synthetic.make_dataset(root, synthetic.SyntheticConfig(
      num_outfits=(n_train, 40, 40), items_per_palette=4, image_size=64))
  report.text(f"Synthetic Polyvore Outfits dataset ({n_train} training outfits; rule: an outfit "
              "is good iff all its items share one hue family), disjoint split.")
  cfg = training.OutfitsConfig.tiny(root, num_steps=200 if quick else 600,
                                    hidden=64 if quick else 256, allow_random_backbone=True)
  start = time.time()
  workdir = os.path.join(report.out_dir, "outfits_grader")
  _, _, result = training.train(cfg, workdir, progress=False)
  report.table(["metric", "test"], [[k, v] for k, v in result.items()])
  report.text(f"Slot grader (8 slots x ResNetTiny pool5 -> {cfg.hidden} -> BN -> ReLU -> 2) "
              f"trained {cfg.num_steps} steps in {time.time() - start:.1f} s.")
  hue = baselines.evaluate_baselines(polyvore.read_polyvore_outfits(root, "disjoint"))["hue"]
  report.text(f"A no-learning hue score gets compatibility AUC {hue['compatibility_auc']:.3f} on "
              "this data: it only shows that the grader reads colour. The relational benchmark "
              "(experiments/outfits_graders.py, docs/outfits.md) is the one colour cannot solve.")

  # a closet of test items: 3 per body part, 4 accessories
  data = polyvore.read_polyvore_outfits(root, "disjoint")
  rng = np.random.default_rng(0)
  test_items = sorted({i for o in data.outfits["test"] for i in o.item_ids})
  chosen = []
  for part, n in (("outer", 3), ("upper", 3), ("lower", 3), ("full", 3), ("feet", 3),
                  ("accessory", 4)):
    pool = [i for i in test_items if data.items[i].part == part]
    chosen += list(rng.choice(pool, size=min(n, len(pool)), replace=False))
  closet = closet_lib.Closet(names=[str(i) for i in chosen],
                             parts=[data.items[i].part for i in chosen],
                             images=[data.items[i].image for i in chosen])
  grader = training.load(workdir)
  messages: list[str] = []
  start = time.time()
  top = recommend.recommend_closet(grader, closet, k=8, messages=messages)
  total = recommend.count_outfits(recommend.items_by_part(closet.parts))
  report.text(f"Closet of {len(chosen)} items: {total} outfits in the three configurations "
              f"scored exactly (decomposed scorer) in {time.time() - start:.2f} s.")
  for m in messages:
    report.text(m)
  sheet.save_contact_sheet(os.path.join(report.out_dir, "outfits_top.png"), top, closet.images,
                           closet.names, thumb=64)
  report.image("outfits_top.png", "Top outfits of the closet with P(good outfit).")
