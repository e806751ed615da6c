"""Bad inputs for `jaxvis outfits ...` and the Polyvore readers."""

from __future__ import annotations

import json
import os

from harness import Case

from jaxvis.outfits import closet, polyvore


def cases(c) -> list[Case]:
  root = os.path.join(c.root, "polyvore")
  bad_json_root = c.folder_with("polyvore-bad-json", {"polyvore_item_metadata.json": "{oops",
                                                      "nondisjoint/train.json": "[]"})
  crawled_nan = c._bytes("crawled.json", json.dumps([{"set_id": "1", "items": [
      {"index": 1, "name": "red top", "image": "x.jpg"}], "likes": float("nan")}]).encode())
  closet_json_bad = c._bytes("closet-bad.json", b'{"items": [{"item_id": "a"}]}')
  train = ["outfits", "train", "--data", c.empty_folder, "--workdir", os.path.join(c.root, "ow"),
           "--tiny", "--quiet"]
  rec = ["outfits", "recommend", c.folder, "--workdir", c.empty_folder]
  return [
      Case("outfits-synth-outfits-0", ["outfits", "synth", root, "--outfits", "0", "5", "5"], names="--outfits"),
      Case("outfits-synth-image-size-4", ["outfits", "synth", root, "--image-size", "4"], names="--image-size"),
      Case("outfits-synth-out-inside-file", ["outfits", "synth", c.unwritable], names="out"),
      Case("outfits-synth-bad-rule", ["outfits", "synth", root, "--rule", "vibes"], names="--rule"),
      Case("outfits-train-missing-data", train[:3] + [c.missing] + train[4:], names="--data"),
      Case("outfits-train-no-data", ["outfits", "train", "--workdir", os.path.join(c.root, "ow"), "--tiny"],
           names="--data"),
      Case("outfits-train-dropout-1.5", train + ["--dropout", "1.5"], names="--dropout"),
      Case("outfits-train-dropout-1", train + ["--dropout", "1"], names="--dropout"),
      Case("outfits-train-lr-nan", train + ["--lr", "nan"], names="--lr"),
      Case("outfits-train-lr-negative", train + ["--lr", "-0.1"], names="--lr"),
      Case("outfits-train-batch-0", train + ["--batch-size", "0"], names="--batch-size"),
      Case("outfits-train-steps-0", train + ["--steps", "0"], names="--steps"),
      Case("outfits-train-hidden-text", train + ["--hidden", "wide"], names="--hidden"),
      Case("outfits-train-bad-model", train + ["--model", "transformer"], names="--model"),
      Case("outfits-train-bad-optimizer", train + ["--optimizer", "lbfgs"], names="--optimizer"),
      Case("outfits-train-weights-missing", train + ["--weights", c.missing], names="--weights"),
      Case("outfits-train-workdir-is-file", ["outfits", "train", "--data", c.empty_folder, "--workdir",
                                     c.plain_file, "--tiny"], names="--workdir"),
      Case("outfits-train-empty-dataset", train + ["--allow-random-backbone"], names="empty-folder"),
      Case("outfits-train-bad-metadata-json", ["outfits", "train", "--data", bad_json_root, "--workdir",
                                       os.path.join(c.root, "ow2"), "--tiny", "--quiet",
                                       "--allow-random-backbone"], names="polyvore_item_metadata.json"),
      Case("outfits-evaluate-missing-workdir", ["outfits", "evaluate", "--workdir", c.missing], names="--workdir"),
      Case("outfits-evaluate-empty-workdir", ["outfits", "evaluate", "--workdir", c.empty_folder],
           names="empty-folder"),
      Case("outfits-evaluate-bad-split", ["outfits", "evaluate", "--workdir", c.empty_folder, "--split", "dev"],
           names="--split"),
      Case("outfits-recommend-missing-closet", ["outfits", "recommend", c.missing, "--workdir", c.empty_folder],
           names="closet"),
      Case("outfits-recommend-top-0", rec + ["--top", "0"], names="--top"),
      Case("outfits-recommend-beam-0", rec + ["--beam", "0"], names="--beam"),
      Case("outfits-recommend-ratio-negative", rec + ["--duplicate-ratio", "-1"], names="--duplicate-ratio"),
      Case("outfits-recommend-sheet-unwritable", rec + ["--sheet", c.unwritable], names="--sheet"),
      Case("outfits-recommend-closet-without-parts", rec, names="a-folder"),
      # Readers.
      Case("outfits-polyvore-outfits-missing", call=lambda: polyvore.read_polyvore_outfits(c.empty_folder),
           names="empty-folder"),
      Case("outfits-polyvore-outfits-bad-json", call=lambda: polyvore.read_polyvore_outfits(bad_json_root),
           names="polyvore_item_metadata.json"),
      Case("outfits-polyvore-outfits-bad-variant",
           call=lambda: polyvore.read_polyvore_outfits(bad_json_root, "both"), names="variant"),
      Case("outfits-maryland-missing", call=lambda: polyvore.read_maryland_polyvore(c.empty_folder),
           names="empty-folder"),
      Case("outfits-crawled-nan-likes", call=lambda: polyvore.read_crawled_sets(crawled_nan), names="crawled.json"),
      Case("outfits-crawled-missing", call=lambda: polyvore.read_crawled_sets(c.missing), names="does-not-exist"),
      Case("outfits-closet-json-no-part", call=lambda: closet.load_closet(closet_json_bad), names="closet-bad.json"),
      Case("outfits-closet-empty-folder", call=lambda: closet.load_closet(c.empty_folder), names="empty-folder"),
  ]
