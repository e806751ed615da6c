"""Bad inputs for the faces readers (WIDER FACE, CelebA, the official evaluation files, weights)."""

from __future__ import annotations

import os

from harness import Case

from jaxvis.faces import celeba, weights, wider, wider_eval
from jaxvis.faces.qr import heldout


def cases(c) -> list[Case]:
  gt = lambda name, text: c._bytes(name, text.encode())  # noqa: E731
  anno = c.folder_with("celeba-nan", {
      "Anno/list_bbox_celeba.txt": "1\nimage_id x_1 y_1 width height\n000001.jpg 1 2 30 40\n",
      "Anno/list_landmarks_celeba.txt": "1\nh\n000001.jpg 1 2 3 nan 5 6 7 8 9 10\n"})
  anno_dup = c.folder_with("celeba-dup", {
      "Anno/list_bbox_celeba.txt": "2\nimage_id x_1 y_1 width height\n000001.jpg 1 2 30 40\n"
                                   "000001.jpg 1 2 30 40\n",
      "Anno/list_landmarks_celeba.txt": "1\nh\n000001.jpg 1 2 3 4 5 6 7 8 9 10\n"})
  anno_neg = c.folder_with("celeba-neg", {
      "Anno/list_bbox_celeba.txt": "1\nimage_id x_1 y_1 width height\n000001.jpg 1 2 -30 40\n",
      "Anno/list_landmarks_celeba.txt": "1\nh\n000001.jpg 1 2 3 4 5 6 7 8 9 10\n"})
  lz4 = os.path.join(weights.mtcnn_weights_dir(), "pnet.lz4")
  truncated = c._bytes("pnet-truncated.lz4", open(lz4, "rb").read()[:1500])
  pickled = c._bytes("pnet-evil.lz4", b"\x80\x04\x95\x1c\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94\x8c"
                                      b"\x06system\x94\x93\x94\x8c\x04true\x94\x85\x94R\x94.")
  wider_nan = gt("wider_face_val_bbx_gt.txt", "a/b.jpg\n1\n10 nan 20 20 0 0 0 0 0 0\n")
  wider_ok = gt("wider_face_train_bbx_gt.txt", "a/b.jpg\n1\n10 10 20 20 0 0 0 0 0 0\n")
  train = ["faces", "train", "--stage", "pnet", "--workdir", os.path.join(c.root, "ft"), "--wider",
           wider_nan]
  detect = ["faces", "detect", "--json"]
  return [
      Case("faces-detect-missing-image", detect + [c.missing], names="does-not-exist.png"),
      Case("faces-detect-one-bad-among-good", detect + [c.photo, c.truncated_jpg], names="truncated.jpg"),
      Case("faces-detect-text-as-png", detect + [c.text_png], names="text.png"),
      Case("faces-detect-huge-header", detect + [c.huge_png], names="huge.png"),
      Case("faces-detect-batch-0", detect + [c.photo, "--batch-size", "0"], names="--batch-size"),
      Case("faces-detect-threshold-2", detect + [c.photo, "--thresholds", "0.6", "2", "0.7"],
           names="--thresholds"),
      Case("faces-detect-min-size-0", detect + [c.photo, "--min-face-size", "0"], names="--min-face-size"),
      Case("faces-detect-max-faces-0", detect + [c.photo, "--max-faces", "0"], names="--max-faces"),
      Case("faces-detect-draw-inside-file", detect + [c.photo, "--draw", c.unwritable], names="--draw"),
      Case("faces-detect-16-bit-gray", detect + [c.gray16], invalid=False),
      Case("faces-detect-float-tiff", detect + [c.float_tif], invalid=False),
      Case("faces-detect-3x3", detect + [c.tiny], invalid=False),
      Case("faces-extract-out-inside-file", ["faces", "extract", c.photo, "--out", c.unwritable],
           names="--out"),
      Case("faces-extract-size-0", ["faces", "extract", c.photo, "--out", os.path.join(c.root, "x"),
                                    "--size", "0"], names="--size"),
      Case("faces-extract-margin-negative", ["faces", "extract", c.photo, "--out",
                                             os.path.join(c.root, "x"), "--margin", "-4"], names="--margin"),
      Case("faces-train-lr-nan", train + ["--learning-rate", "nan"], names="--learning-rate"),
      Case("faces-train-steps-0", train + ["--steps", "0"], names="--steps"),
      Case("faces-train-ohem-0", train + ["--ohem-ratio", "0"], names="--ohem-ratio"),
      Case("faces-train-nan-annotation", train, names="wider_face_val_bbx_gt.txt:3"),
      Case("faces-train-missing-annotation", train[:-1] + [c.missing], names="--wider"),
      Case("faces-train-bad-stage", ["faces", "train", "--stage", "qnet", "--workdir", c.root], names="--stage"),
      Case("faces-train-workdir-is-file", ["faces", "train", "--stage", "pnet", "--workdir", c.plain_file,
                                           "--wider", wider_nan], names="--workdir"),
      Case("faces-train-bad-params-file", ["faces", "train", "--stage", "rnet", "--workdir",
                                           os.path.join(c.root, "ft"), "--wider", wider_ok, "--pnet",
                                           c.empty], names="empty.png"),
      Case("faces-evaluate-nan-annotation", ["faces", "evaluate", "--wider", wider_nan],
           names="wider_face_val_bbx_gt.txt:3"),
      Case("faces-evaluate-limit-0", ["faces", "evaluate", "--wider", wider_nan, "--limit", "0"],
           names="--limit"),
      Case("faces-qr-missing-image", ["faces", "qr", c.missing, "--json"], names="does-not-exist.png"),
      Case("faces-qr-bad-weights", ["faces", "qr", c.photo, "--weights", c.bad_json], names="bad.json"),
      Case("faces-qr-float-tiff", ["faces", "qr", c.float_tif, "--json"], invalid=False),
      Case("faces-qr-16-bit-gray-no-detector", ["faces", "qr", c.gray16, "--json", "--no-detector"], invalid=False),
      Case("faces-qr-3x3", ["faces", "qr", c.tiny, "--json"], invalid=False),
      Case("faces-qr-unreadable-score-2", ["faces", "qr", c.photo, "--unreadable-score", "2"],
           names="--unreadable-score"),
      Case("faces-qr-max-codes-limit-0", ["faces", "qr", c.photo, "--max-codes-limit", "0"],
           names="--max-codes-limit"),
      Case("faces-qr-heldout-bad-factor", call=lambda: heldout.make_scene("fog", 0), names="factor"),
      Case("faces-wider-missing", call=lambda: wider.read_bbx_gt(c.missing), names="annotation_file"),
      Case("faces-wider-empty", call=lambda: wider.read_bbx_gt(gt("w-empty.txt", "")), names="w-empty.txt"),
      Case("faces-wider-nan", call=lambda: wider.read_bbx_gt(gt(
          "w-nan.txt", "a/b.jpg\n1\n10 nan 20 20 0 0 0 0 0 0\n")), names="w-nan.txt:3"),
      Case("faces-wider-negative-size", call=lambda: wider.read_bbx_gt(gt(
          "w-neg.txt", "a/b.jpg\n1\n10 10 -20 20 0 0 0 0 0 0\n")), names="w-neg.txt:3"),
      Case("faces-wider-count-text", call=lambda: wider.read_bbx_gt(gt("w-count.txt", "a/b.jpg\nmany\n")),
           names="w-count.txt:2"),
      Case("faces-wider-ends-early", call=lambda: wider.read_bbx_gt(gt(
          "w-short.txt", "a/b.jpg\n3\n1 1 5 5 0 0 0 0 0 0\n")), names="w-short.txt"),
      Case("faces-wider-duplicate", call=lambda: wider.read_bbx_gt(gt(
          "w-dup.txt", "a/b.jpg\n0\n0 0 0 0 0 0 0 0 0 0\na/b.jpg\n0\n0 0 0 0 0 0 0 0 0 0\n")),
           names="w-dup.txt:4"),
      Case("faces-wider-binary", call=lambda: wider.read_bbx_gt(c.truncated_jpg), names="truncated.jpg"),
      Case("faces-celeba-missing", call=lambda: celeba.read_celeba(c.empty_folder), names="neither CelebA layout"),
      Case("faces-celeba-nan", call=lambda: celeba.read_celeba(anno), names="list_landmarks_celeba.txt:3"),
      Case("faces-celeba-duplicate", call=lambda: celeba.read_celeba(anno_dup), names="list_bbox_celeba.txt:4"),
      Case("faces-celeba-negative-box", call=lambda: celeba.read_celeba(anno_neg), names="list_bbox_celeba.txt"),
      Case("faces-wider-eval-no-mat", call=lambda: wider_eval.read_ground_truth(c.empty_folder),
           names="wider_face_val.mat"),
      Case("faces-wider-eval-bad-mat", call=lambda: wider_eval.read_ground_truth(
          c.folder_with("mat-bad", {"wider_face_val.mat": "not matlab"})), names="wider_face_val.mat"),
      Case("faces-wider-eval-no-predictions", call=lambda: wider_eval.read_predictions(c.empty_folder),
           names="empty-folder"),
      Case("faces-weights-truncated", call=lambda: weights.load_array_list(truncated),
           names="pnet-truncated.lz4"),
      Case("faces-weights-pickled-code", call=lambda: weights.load_array_list(pickled), names="os.system"),
  ]
