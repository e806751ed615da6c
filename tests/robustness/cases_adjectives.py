"""Bad inputs for `jaxvis adjectives ...` and the VSO / MVSO readers."""

from __future__ import annotations

import os

from harness import Case

import numpy as np

from jaxvis.adjectives import data, features, search


def cases(c) -> list[Case]:
  good = c.folder_with("adj-good", {"a.png": c.photo, "b.png": c.gray16})
  broken = c.folder_with("adj-broken", {"a.png": c.photo, "b.jpg": c.truncated_jpg})
  out = os.path.join(c.root, "rank.json")
  rank = ["adjectives", "rank", "--relevant", good, "--irrelevant", good, "--json", out, "--tiny"]
  csv_nan = c._bytes("mvso-bad.csv", b"ANP,image_url\nhappy_dog,http://x/1.jpg\nnotananp,http://x/2.jpg\n")
  csv_short = c._bytes("mvso-short.csv", b"happy_dog,http://x/1.jpg\nsad_cat\n")
  csv_empty_url = c._bytes("mvso-empty-url.csv", b"ANP,image_url\nhappy_dog,\n")
  return [
      Case("rank-relevant-missing", ["adjectives", "rank", "--relevant", c.missing, "--irrelevant", good,
                                     "--json", out], names="--relevant"),
      Case("rank-relevant-is-file", ["adjectives", "rank", "--relevant", c.photo, "--irrelevant", good,
                                     "--json", out], names="--relevant"),
      Case("rank-relevant-empty", ["adjectives", "rank", "--relevant", c.empty_folder, "--irrelevant", good,
                                   "--json", out], names="empty-folder"),
      Case("rank-broken-image", ["adjectives", "rank", "--relevant", broken, "--irrelevant", good,
                                 "--json", out, "--tiny"], names="b.jpg"),
      Case("rank-size-0", rank + ["--size", "0"], names="--size"),
      Case("rank-size-8", rank + ["--size", "8"], names="--size"),
      Case("rank-steps-0", rank + ["--steps", "0"], names="--steps"),
      Case("rank-clusters-0", rank + ["--clusters", "0"], names="--clusters"),
      Case("rank-clusters-text", rank + ["--clusters", "two"], names="--clusters"),
      Case("rank-json-unwritable", ["adjectives", "rank", "--relevant", good, "--irrelevant", good,
                                    "--json", c.unwritable], names="--json"),
      Case("rank-workdir-is-file", rank + ["--workdir", c.plain_file], names="--workdir"),
      Case("rank-bad-pooling", rank + ["--pooling", "median,banana"], names="pool"),
      Case("rank-bad-dtype", rank + ["--dtype", "float16"], names="--dtype"),
      Case("rank-bad-readout", rank + ["--readout", "middle"], names="--readout"),
      Case("rank-readout-with-pooling", rank + ["--readout", "top", "--pooling", "mean"],
           names="--readout"),
      # Readers.
      Case("vso-missing-root", call=lambda: data.read_vso(c.missing), names="root"),
      Case("vso-no-anp-folders", call=lambda: data.read_vso(c.empty_folder), names="root"),
      Case("mvso-missing", call=lambda: data.read_mvso_csv(c.missing), names="path"),
      Case("mvso-empty", call=lambda: data.read_mvso_csv(c.empty), names="empty.png"),
      Case("mvso-bad-anp", call=lambda: data.read_mvso_csv(csv_nan), names="mvso-bad.csv:3"),
      Case("mvso-short-row", call=lambda: data.read_mvso_csv(csv_short), names="mvso-short.csv:2"),
      Case("mvso-empty-url", call=lambda: data.read_mvso_csv(csv_empty_url), names="mvso-empty-url.csv:2"),
      Case("mvso-binary", call=lambda: data.read_mvso_csv(c.truncated_jpg), names="truncated.jpg"),
      Case("list-images-empty", call=lambda: data.list_images(c.empty_folder), names="empty-folder"),
      # Issue 21: read-outs and the trivial baseline's statistics.
      Case("readout-unknown", call=lambda: search.with_readout(search.SearchConfig(), "middle"),
           names="readout"),
      Case("image-statistics-grey", call=lambda: features.image_statistics(
          np.zeros((2, 8, 8), np.float32)), names="images"),
  ]
