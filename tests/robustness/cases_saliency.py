"""Bad inputs for `jaxvis saliency ...` and the saliency readers."""

from __future__ import annotations

import os
import pickle

from harness import Case

from jaxvis.saliency import cifar10, imagenet

SHIPPED = os.path.join(os.path.dirname(cifar10.__file__), "..", "assets", "saliency")


def cases(c) -> list[Case]:
  out = os.path.join(c.root, "saliency-out")
  overlay = os.path.join(c.root, "overlay.png")
  train = ["saliency", "train", "--out", out, "--tiny"]
  cifar_bad = c.folder_with("cifar-malicious", {"batches.meta": pickle.dumps({b"label_names": []})})
  c.malicious_pickle(os.path.join("cifar-malicious", "data_batch_1"))
  for i in range(2, 6):
    c.folder_with("cifar-malicious", {f"data_batch_{i}": pickle.dumps({b"data": b"", b"labels": []})})
  c.folder_with("cifar-malicious", {"test_batch": pickle.dumps([1, 2])})
  cifar_trunc = c.folder_with("cifar-truncated", {f: pickle.dumps({b"labels": [1] * 50})[:20]
                                                   for f in cifar10.TRAIN_FILES + cifar10.TEST_FILES})
  bad_ckpt = c.folder_with("bad-checkpoint", {"masking_config.json": "{not json",
                                              "masking_variables.msgpack": b"\x00\x01garbage"})
  bad_msgpack = c.folder_with("bad-msgpack", {"masking_config.json": open(
      os.path.join(SHIPPED, "masking_config.json")).read(), "masking_variables.msgpack": b"\xc1\xc1"})
  no_bb = c.folder_with("no-black-box", {"masking_config.json": '{"config": {}}'})
  explain = ["saliency", "explain", "--checkpoint", SHIPPED, "--out", overlay, "--class", "3"]
  return [
      Case("train-steps-0", train + ["--steps", "0"], names="--steps"),
      Case("train-steps-negative", train + ["--steps", "-5"], names="--steps"),
      Case("train-steps-text", train + ["--steps", "many"], names="--steps"),
      Case("train-steps-float", train + ["--steps", "1.5"], names="--steps"),
      Case("train-cnn-steps-0", train + ["--cnn-steps", "0"], names="--cnn-steps"),
      Case("train-num-train-0", train + ["--num-train", "0"], names="--num-train"),
      Case("train-out-inside-a-file", ["saliency", "train", "--out", c.unwritable, "--tiny"], names="--out"),
      Case("train-cifar-no-data-dir", train + ["--dataset", "cifar10"], names="--data-dir"),
      Case("train-cifar-missing-dir", train + ["--dataset", "cifar10", "--data-dir", c.missing],
           names="--data-dir"),
      Case("train-cifar-empty-dir", train + ["--dataset", "cifar10", "--data-dir", c.empty_folder],
           names="data_dir"),
      Case("train-cifar-malicious-pickle", train + ["--dataset", "cifar10", "--data-dir", cifar_bad],
           names="data_batch_1", check=lambda _: "payload ran" if os.path.exists(c.marker) else None),
      Case("train-cifar-truncated", train + ["--dataset", "cifar10", "--data-dir", cifar_trunc],
           names="data_batch_1"),
      Case("train-bad-dataset", train + ["--dataset", "mnist"], names="--dataset"),
      Case("explain-missing-image", explain[:2] + [c.missing] + explain[2:], names="does-not-exist.png"),
      Case("explain-empty-file", explain[:2] + [c.empty] + explain[2:], names="empty.png"),
      Case("explain-text-as-png", explain[:2] + [c.text_png] + explain[2:], names="text.png"),
      Case("explain-truncated-jpeg", explain[:2] + [c.truncated_jpg] + explain[2:], names="truncated.jpg"),
      Case("explain-huge-header", explain[:2] + [c.huge_png] + explain[2:], names="huge.png"),
      Case("explain-folder-as-image", explain[:2] + [c.folder] + explain[2:], names="a-folder"),
      Case("explain-class-negative", explain[:2] + [c.photo] + explain[2:-1] + ["-1"], names="--class"),
      Case("explain-class-too-large", explain[:2] + [c.photo] + explain[2:-1] + ["10"], names="--class"),
      Case("explain-missing-checkpoint", ["saliency", "explain", c.photo, "--checkpoint", c.missing,
                                          "--out", overlay, "--class", "1"], names="--checkpoint"),
      Case("explain-empty-checkpoint", ["saliency", "explain", c.photo, "--checkpoint", c.empty_folder,
                                        "--out", overlay, "--class", "1"], names="masking_config.json"),
      Case("explain-bad-config-json", ["saliency", "explain", c.photo, "--checkpoint", bad_ckpt,
                                       "--out", overlay, "--class", "1"], names="masking_config.json"),
      Case("explain-bad-msgpack", ["saliency", "explain", c.photo, "--checkpoint", bad_msgpack,
                                   "--out", overlay, "--class", "1"], names="masking_variables.msgpack"),
      Case("explain-out-inside-a-file", explain[:2] + [c.photo] + explain[2:5] + [c.unwritable] + explain[6:],
           names="--out"),
      Case("explain-16-bit-gray", explain[:2] + [c.gray16] + explain[2:], invalid=False, outputs=[overlay]),
      Case("explain-float-tiff", explain[:2] + [c.float_tif] + explain[2:], invalid=False),
      Case("explain-rgba", explain[:2] + [c.rgba] + explain[2:], invalid=False),
      Case("explain-3x3-image", explain[:2] + [c.tiny] + explain[2:], invalid=False),
      Case("evaluate-num-0", ["saliency", "evaluate", "--checkpoint", SHIPPED, "--out", overlay,
                              "--num", "0"], names="--num"),
      Case("evaluate-iterations-negative", ["saliency", "evaluate", "--checkpoint", SHIPPED, "--out",
                                            overlay, "--iterations", "-1"], names="--iterations"),
      Case("evaluate-json-unwritable", ["saliency", "evaluate", "--checkpoint", SHIPPED, "--out", overlay,
                                        "--json", c.unwritable], names="--json"),
      Case("evaluate-checkpoint-without-black-box", ["saliency", "evaluate", "--checkpoint", no_bb,
                                                     "--out", overlay], names="no-black-box"),
      Case("evaluate-methods-unknown", ["saliency", "evaluate", "--checkpoint", SHIPPED, "--out", overlay,
                                        "--methods", "gradient,lime"], names="--methods"),
      Case("evaluate-methods-empty", ["saliency", "evaluate", "--checkpoint", SHIPPED, "--out", overlay,
                                      "--methods", " , "], names="--methods"),
      Case("train-objective-unknown", train + ["--objective", "best"], names="--objective"),
      # Readers.
      Case("cifar-reader-malicious", call=lambda: cifar10.load_split(cifar_bad, "train"),
           names="data_batch_1"),
      Case("cifar-reader-split", call=lambda: cifar10.load_split(cifar_bad, "validation"), names="split"),
      Case("imagenet-synsets-missing", call=lambda: imagenet.read_synsets(c.empty_folder), names="root"),
      Case("imagenet-xml-broken", call=lambda: imagenet.parse_annotation(c.bad_json), names="bad.json"),
      Case("imagenet-xml-no-size", call=lambda: imagenet.parse_annotation(c._bytes(
          "nosize.xml", b"<annotation><object/></annotation>")), names="nosize.xml"),
      Case("imagenet-xml-text-width", call=lambda: imagenet.parse_annotation(c._bytes(
          "w.xml", b"<annotation><size><width>wide</width><height>3</height></size></annotation>")),
           names="w.xml"),
      Case("imagenet-xml-inverted-box", call=lambda: imagenet.parse_annotation(c._bytes(
          "inv.xml", b"<annotation><size><width>10</width><height>10</height></size><object><name>n1"
                     b"</name><bndbox><xmin>8</xmin><ymin>1</ymin><xmax>2</xmax><ymax>5</ymax></bndbox>"
                     b"</object></annotation>")), names="inv.xml"),
      Case("imagenet-xml-missing-file", call=lambda: imagenet.parse_annotation(c.missing),
           names="does-not-exist"),
      Case("imagenet-source-preprocess", call=lambda: imagenet.TrainSource(c.empty_folder, preprocess="bgr"),
           names="preprocess"),
  ]
