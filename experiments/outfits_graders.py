"""The paper's slot grader vs the set-based graders (DeepSets, self-attention), one evaluation.

    python experiments/outfits_graders.py --workdir runs/outfits --tiny --allow-random-backbone
        [--synthetic styles|hue] [--data ROOT --data-format polyvore_outfits|maryland
         --variant disjoint|nondisjoint --weights W]

Without --data a synthetic dataset is written first: `styles` (default; the
relational benchmark of `styles.py`, which colour statistics cannot solve) or
`hue` (the older one-hue-family rule). Each grader is trained on the same
positives and same-part-swap negatives and evaluated on the test split: the
paper's accuracy and precision, their AUC, the published compatibility AUC and
fill-in-the-blank accuracy. The no-learning hue and colour-histogram baselines
(`baselines.py`) are reported beside the graders. Prints one JSON line per row
and a Markdown table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os

from jaxvis.outfits import baselines, styles, synthetic, training


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", default="runs/outfits_graders")
  parser.add_argument("--data", default="", help="dataset root (default: a synthetic one)")
  parser.add_argument("--data-format", default="polyvore_outfits",
                      choices=("polyvore_outfits", "maryland"))
  parser.add_argument("--variant", default="disjoint", choices=("disjoint", "nondisjoint"))
  parser.add_argument("--synthetic", default="styles", choices=("styles", "hue"))
  parser.add_argument("--items-per-style", type=int, default=24,
                      help="styles benchmark: items per part, style and split")
  parser.add_argument("--outfits", type=int, nargs=3, default=None, metavar=("TRAIN", "VALID", "TEST"))
  parser.add_argument("--tiny", action="store_true", help="CPU-sized models and features")
  parser.add_argument("--steps", type=int, default=None)
  parser.add_argument("--models", nargs="*", default=["slot", "deepsets", "attention"])
  parser.add_argument("--paper-sgd", action="store_true", help="SGD lr 1e-4 momentum 0.9")
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--weights", default="", help="backbone weight file (.h5/.safetensors)")
  parser.add_argument("--allow-random-backbone", action="store_true",
                      help="without --weights: a seeded random backbone (else refused)")
  args = parser.parse_args()

  data = args.data
  if not data:
    data = os.path.join(args.workdir, f"synthetic_{args.synthetic}")
    if not os.path.isdir(os.path.join(data, "disjoint")):
      if args.synthetic == "styles":
        styles.make_dataset(data, styles.StyleConfig(
            num_outfits=tuple(args.outfits or (2000, 200, 200)),
            items_per_style=args.items_per_style, seed=args.seed))
      else:
        synthetic.make_dataset(data, synthetic.SyntheticConfig(
            num_outfits=tuple(args.outfits or (400, 60, 60)), items_per_palette=4,
            image_size=64, seed=args.seed))
  base = training.OutfitsConfig.tiny(data) if args.tiny else training.OutfitsConfig(data=data)
  base = dataclasses.replace(base, seed=args.seed, weights=args.weights,
                             allow_random_backbone=args.allow_random_backbone,
                             data_format=args.data_format, variant=args.variant)
  if args.steps:
    base = dataclasses.replace(base, num_steps=args.steps)
  if args.paper_sgd:
    base = dataclasses.replace(base, optimizer="sgd", learning_rate=1e-4, momentum=0.9)
  widths = {"slot": base.hidden, "deepsets": min(base.hidden, 512),
            "attention": min(base.hidden, 256) if not args.tiny else 32}
  cfgs = [dataclasses.replace(base, model=m, hidden=widths[m],
                              dropout=base.dropout if m == "slot" else 0.1,
                              learning_rate=base.learning_rate if m != "attention" else
                              min(base.learning_rate, 3e-4))
          for m in args.models]
  rows = [{"model": f"{name} baseline (no learning)", **res} for name, res in
          baselines.evaluate_baselines(training.load_dataset(base), "test").items()]
  rows += training.compare(cfgs, args.workdir)
  for row in rows:
    print(json.dumps(row))
  keys = ["accuracy", "precision", "auc", "compatibility_auc", "fitb_accuracy"]
  print("| grader | " + " | ".join(keys) + " |")
  print("|---" * (len(keys) + 1) + "|")
  for row in rows:
    print(f"| {row['model']} | " + " | ".join(f"{row[k]:.3f}" if k in row else "-"
                                                for k in keys) + " |")


if __name__ == "__main__":
  main()
