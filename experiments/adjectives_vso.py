"""The paper's Table 3 protocol on a VSO or MVSO image folder (Sec. 4 of the paper).

For each query ANP ("happy dog", "clear sky" in Table 3; any of Table 1's ten):
  * truly relevant images: the ANP's own images; truly irrelevant: the images of
    the other ANPs with the same noun, minus those whose adjective is too close
    (`--exclude`, e.g. "excited" for "happy");
  * P and Q of m images each (Table 3: m = 200) at Table 1's purities (Ratio A, B);
  * P's precision is the search engine's answer (Table 3's "Precision@200");
    every model re-ranks P + Q and its accuracy is the precision of its top m;
  * the models: the trivial baseline (colour / gradient statistics), the untrained,
    plain and pair-wise stacked CAEs (Table 2's network at 100x100), all through the
    same pairs -> K-means -> relevance pipeline (`jaxvis.adjectives.compare`), each
    read with every `--readout`.
The paper pairs images by Faster R-CNN detections; VSO has no boxes, and all images
of a query share its noun, so pairs are matched by layout similarity
(`pairs.object_features`).

On-disk formats (as published; `jaxvis.adjectives.data`):
  VSO / SentiBank: <root>/bi_concepts1553/<adjective>_<noun>/*.jpg (the Flickr CC image
    archive unpacks to Images_with_CC/bi_concepts1553/...; pass Images_with_CC or
    bi_concepts1553 itself);
  MVSO: a CSV of `ANP,image_url` rows (header optional; e.g. image_url_mappings/english.csv)
    and the downloaded images in one folder, each named by its URL's basename.

    python experiments/adjectives_vso.py --vso Images_with_CC --json vso.json --seeds 0 1 2 3 4
    python experiments/adjectives_vso.py --mvso-csv english.csv --image-dir images --json mvso.json
    python experiments/adjectives_vso.py --tiny --json vso_tiny.json   # generated files, minutes on a CPU

`--tiny` writes a small VSO folder (`--tiny-root`, default a temporary folder):
crops of real skimage / scikit-learn photos saved as JPEG under
bi_concepts1553/<anp>/, the query ANPs' images with a visible adjective (happy_dog:
a warm cast; clear_sky: a gamma lift; excited_dog, to be excluded, warm too), the
other ANPs of the same nouns without; then runs the same protocol at 28x28, m = 24.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time

import numpy as np

from jaxvis.adjectives import compare, controlled, data, search
from jaxvis.adjectives.train import SCAEConfig

TABLE3_QUERIES = ("happy dog", "clear sky")

# The tiny VSO folder: ANP -> (image count, adjective applied or None, photos it is cropped from).
_DOG_PHOTOS = ("chelsea", "astronaut", "coffee", "china")
_SKY_PHOTOS = ("rocket", "flower", "immunohistochemistry")
TINY_ANPS = {
    "happy_dog": (30, "warm", _DOG_PHOTOS), "excited_dog": (12, "warm", _DOG_PHOTOS),
    "sad_dog": (22, None, _DOG_PHOTOS), "cute_dog": (22, None, _DOG_PHOTOS),
    "clear_sky": (30, "bright", _SKY_PHOTOS), "cloudy_sky": (25, None, _SKY_PHOTOS),
    "dark_sky": (20, None, _SKY_PHOTOS), "tiny_flower": (6, None, _SKY_PHOTOS),
}
TINY_EXCLUDE = ("excited",)


def write_tiny_vso(root: str, seed: int = 0, side: int = 40) -> str:
  """Writes the tiny VSO folder (`TINY_ANPS`) under `root`; returns `root`.

  Files: root/bi_concepts1553/<anp>/<10-digit id>.jpg, `side` x `side` JPEGs.
  """
  from PIL import Image
  rng = np.random.default_rng(seed)
  photos = controlled.load_photos()
  next_id = 3000000000
  for anp, (count, adjective, names) in TINY_ANPS.items():
    folder = os.path.join(root, "bi_concepts1553", anp)
    os.makedirs(folder, exist_ok=True)
    crops, _ = controlled.random_crops({n: photos[n] for n in names}, count, side, rng,
                                       num_scenes=max(count // 3, 1))
    crops = controlled.jitter(crops, rng)
    if adjective is not None:
      crops = controlled.ADJECTIVES[adjective](crops)
    for crop in crops:
      Image.fromarray((crop * 255).round().astype(np.uint8)).save(
          os.path.join(folder, f"{next_id}.jpg"), quality=92)
      next_id += int(rng.integers(1, 1000))
  return root


def configs(tiny: bool, steps: int | None = None) -> tuple[dict, search.SearchConfig]:
  """(problem, pipeline): Table 2's network at 100x100 with m = 200, or the tiny variant."""
  if tiny:
    problem = dict(m=24, size=28)
    scae = SCAEConfig(features=(4, 4), batch_size=8, greedy_steps=10, finetune_steps=10,
                      learning_rate=3e-3)
    config = search.SearchConfig(scae=scae, kmeans_restarts=3, relevance_steps=200)
  else:
    problem = dict(m=200, size=100)
    scae = SCAEConfig(features=(20, 20), batch_size=16, greedy_steps=60, finetune_steps=60,
                      learning_rate=3e-3)
    config = search.SearchConfig(scae=scae)
  if steps is not None:
    config = dataclasses.replace(config, scae=dataclasses.replace(
        config.scae, greedy_steps=steps, finetune_steps=steps))
  return problem, config


def read_dataset(args) -> dict[str, list[str]]:
  if args.vso:
    return data.read_vso(args.vso)
  anps = data.read_mvso_csv(args.mvso_csv, image_dir=args.image_dir, require_files=True)
  if not anps:
    raise SystemExit(f"error: --image-dir: none of the images listed in {args.mvso_csv} is in "
                     f"{args.image_dir}")
  return anps


def run_query(anps: dict, query: str, problem: dict, config: search.SearchConfig, seed: int,
              exclude: tuple[str, ...], readouts: tuple[str, ...],
              cluster_counts: tuple[int, ...]) -> dict:
  """One query and seed: P and Q at Table 1's purities, every model's ranking scored."""
  rel, irr = data.relevant_and_irrelevant(anps, query, exclude)
  sets = data.table1_query_sets(anps, query, problem["m"], seed=seed, exclude_adjectives=exclude)
  P = data.load_images(sets.P, problem["size"])
  Q = data.load_images(sets.Q, problem["size"])
  ratio_a, ratio_b = data.TABLE1[" ".join(data.split_anp(query))]
  row = {"query": query, "ratio_a": ratio_a, "ratio_b": ratio_b, "m": problem["m"],
         "available": {"relevant": len(rel), "irrelevant": len(irr)}}
  row.update(compare.compare_models(P, Q, sets.relevant_p, sets.relevant_q, config, seed,
                                    readouts=readouts, cluster_counts=cluster_counts))
  return row


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  source = parser.add_mutually_exclusive_group(required=True)
  source.add_argument("--vso", help="VSO folder (holding bi_concepts1553/, or that folder itself)")
  source.add_argument("--mvso-csv", help="MVSO CSV of ANP,image_url rows (with --image-dir)")
  source.add_argument("--tiny", action="store_true",
                      help="generate a small VSO folder and run the protocol on it (CPU minutes)")
  parser.add_argument("--image-dir", help="with --mvso-csv: the downloaded images (URL basenames)")
  parser.add_argument("--tiny-root", help="with --tiny: write the generated folder here (kept)")
  parser.add_argument("--json", required=True, help="where to write the results")
  parser.add_argument("--queries", nargs="+", default=list(TABLE3_QUERIES),
                      help=f"ANPs among Table 1's (default Table 3's: {list(TABLE3_QUERIES)})")
  parser.add_argument("--exclude", nargs="*", default=None, metavar="ADJ",
                      help="adjectives too close to the queries' to count as irrelevant "
                           f"(default none; --tiny: {list(TINY_EXCLUDE)})")
  parser.add_argument("--seeds", nargs="+", type=int, default=[0])
  parser.add_argument("--m", type=int, default=None, help="images in P and in Q (default 200; tiny 24)")
  parser.add_argument("--size", type=int, default=None, help="image side (default 100; tiny 28)")
  parser.add_argument("--steps", type=int, default=None,
                      help="steps per greedy level and of fine-tuning (default 60; tiny 10)")
  parser.add_argument("--readout", nargs="+", choices=sorted(search.READOUTS),
                      default=["top", "pooled"], help="read-outs of every auto-encoder")
  parser.add_argument("--cluster-counts", nargs="+", type=int, default=[2], metavar="K")
  args = parser.parse_args(argv)
  if args.mvso_csv and not args.image_dir:
    parser.error("--mvso-csv needs --image-dir (where the images were downloaded)")
  unknown = [q for q in args.queries if " ".join(data.split_anp(q)) not in data.TABLE1]
  if unknown:
    parser.error(f"--queries: {unknown} are not Table 1 queries {sorted(data.TABLE1)}")
  if any(k < 2 for k in args.cluster_counts):
    parser.error(f"--cluster-counts: expected K >= 2, got {args.cluster_counts}")
  for name in ("m", "size", "steps"):
    value = getattr(args, name)
    if value is not None and value < (0 if name == "steps" else 1):
      parser.error(f"--{name}: expected a positive number, got {value}")
  problem, config = configs(args.tiny, args.steps)
  problem.update({k: getattr(args, k) for k in ("m", "size") if getattr(args, k) is not None})
  exclude = tuple(args.exclude if args.exclude is not None else
                  (TINY_EXCLUDE if args.tiny else ()))

  tmp = None
  if args.tiny:
    root = args.tiny_root or (tmp := tempfile.TemporaryDirectory()).name
    args.vso = write_tiny_vso(root)
  start = time.time()
  try:
    anps = read_dataset(args)
    runs = []
    for seed in args.seeds:
      rows = []
      for query in args.queries:
        row = run_query(anps, query, problem, config, seed, exclude, tuple(args.readout),
                        tuple(args.cluster_counts))
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "readouts"}), flush=True)
      runs.append({"seed": seed, "problem": problem,
                   "config": json.loads(json.dumps(dataclasses.asdict(config), default=str)),
                   "readouts": {r: search.READOUTS[r] for r in args.readout}, "queries": rows})
  finally:
    if tmp is not None:
      tmp.cleanup()
  out = {"source": {"vso": None if args.tiny else args.vso, "mvso_csv": args.mvso_csv,
                    "tiny": args.tiny},
         "exclude_adjectives": list(exclude), "seeds": args.seeds,
         "seconds": round(time.time() - start, 1), "runs": runs}
  os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
  with open(args.json, "w") as f:
    json.dump(out, f, indent=2)
  k = str(config.num_clusters)
  for readout in args.readout:
    print(f"Table 3 form, read-out {readout!r}, K = {k}: precision of the top m, mean over seeds "
          f"{args.seeds}")
    print(f"{'query':<14} {'P (engine)':>10} {'trivial':>8} {'untrained':>9} {'plain':>6} "
          f"{'pair-wise':>9}")
    for qi, query in enumerate(args.queries):
      cells = [np.mean([run["queries"][qi]["pseudo_relevant_precision"] for run in runs])]
      cells += [np.mean([run["queries"][qi]["readouts"][readout][model][k]["accuracy"]
                         for run in runs])
                for model in ("trivial", "untrained_scae", "plain_scae", "pairwise_scae")]
      print(f"{query:<14} " + " ".join(f"{c:>{w}.3f}" for c, w in zip(cells, (10, 8, 9, 6, 9))))
  return 0


if __name__ == "__main__":
  sys.exit(main())
