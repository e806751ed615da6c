"""Bad inputs for `jaxvis music ...` and the song / lexicon / study / FER2013 / COCO readers."""

from __future__ import annotations

import json
import os

from harness import Case

from jaxvis.music import coco, evaluate, expression, lexicon, pipeline, songs


def _recommended(stdout: str) -> str | None:
  try:
    rec = json.loads(stdout)
  except ValueError:
    return "no JSON result"
  return None if rec.get("songs") or rec.get("recommendations") else f"no songs in {list(rec)}"


def cases(c) -> list[Case]:
  good_songs = c._bytes("songs.csv", b"song_id,valence,arousal,title\n"
                        + b"".join(f"{i},{(i % 9 - 4) / 5},{(i % 7 - 3) / 4},t{i}\n".encode()
                                   for i in range(40)))
  nan_song = c._bytes("songs-nan.csv", b"song_id,valence,arousal\n1,0.1,0.2\n2,nan,0.5\n")
  range_song = c._bytes("songs-range.csv", b"song_id,valence,arousal\n1,0.1,7\n")
  dup_song = c._bytes("songs-dup.csv", b"song_id,valence,arousal\n1,0.1,0.2\n1,0.3,0.2\n")
  empty_songs = c._bytes("songs-empty.csv", b"song_id,valence,arousal\n")
  deam_nan = c.folder_with("deam", {"static_annotations_averaged_songs_1_2000.csv":
                                    "song_id, valence_mean, valence_std, arousal_mean, arousal_std\n"
                                    "2, nan, 0.9, 5.1, 1.0\n"})
  empty_lex = c._bytes("lex-empty.csv", b"word,valence,arousal\n")
  nan_lex = c._bytes("lex-nan.csv", b"word,valence,arousal\nsunny,0.5,nan\n")
  ref_nan = c._bytes("ref.json", b'{"reference_means": [1.0, NaN, 2.0, 1.0]}')
  ref_short = c._bytes("ref-short.json", b'{"reference_means": [1.0, 2.0]}')
  ref_missing_key = c._bytes("ref-key.json", b'{"means": [1, 2, 3, 4]}')
  dets_bad = c._bytes("dets.json", b'[{"label": "dog", "box": [10, 10, "x", 40]}]')
  fer_bad_px = c._bytes("fer-px.csv", b"emotion,pixels,Usage\n0,1 2 3,Training\n")
  fer_bad_label = c._bytes("fer-label.csv",
                           ("emotion,pixels,Usage\n9," + " ".join(["7"] * 2304) + ",Training\n").encode())
  fer_empty = c._bytes("fer-empty.csv", b"emotion,pixels,Usage\n")
  system_ok = c._bytes("system.csv", b"image_id,method,quadrant\na,B,1\n")
  categories = c._bytes("categories.json", b'{"categories": [{"id": 1, "name": "dog"}]}')
  users_bad = c._bytes("users.csv", b"image_id,user_id,valence,arousal\na,u1,0.5,nan\n")
  rle_bad = c._bytes("coco-dets.json", json.dumps([{"image_id": 1, "category_id": 1, "score": 0.9,
                                                    "segmentation": {"size": [4, 4], "counts": "!!"},
                                                    "bbox": [0, 0, 2, 2]}]).encode())
  rec = ["music", "recommend", c.photo, "--songs", good_songs, "--no-faces", "--json"]
  return [
      Case("music-recommend-missing-image", ["music", "recommend", c.missing, "--songs", good_songs],
           names="does-not-exist.png"),
      Case("music-recommend-text-as-png", ["music", "recommend", c.text_png, "--songs", good_songs,
                                           "--no-faces"], names="text.png"),
      Case("music-recommend-truncated-jpeg", ["music", "recommend", c.truncated_jpg, "--songs",
                                              good_songs, "--no-faces"], names="truncated.jpg"),
      Case("music-recommend-missing-songs", ["music", "recommend", c.photo, "--songs", c.missing],
           names="--songs"),
      Case("music-recommend-nan-song", rec[:4] + [nan_song] + rec[5:], names="songs-nan.csv:3"),
      Case("music-recommend-song-out-of-range", rec[:4] + [range_song] + rec[5:], names="songs-range.csv:2"),
      Case("music-recommend-duplicate-song", rec[:4] + [dup_song] + rec[5:], names="songs-dup.csv:3"),
      Case("music-recommend-no-songs", rec[:4] + [empty_songs] + rec[5:], names="songs-empty.csv"),
      Case("music-recommend-deam-nan", rec[:4] + [deam_nan] + rec[5:], names="static_annotations"),
      Case("music-recommend-empty-lexicon", rec + ["--lexicon", empty_lex], names="lex-empty.csv"),
      Case("music-recommend-nan-lexicon", rec + ["--lexicon", nan_lex], names="lex-nan.csv:2"),
      Case("music-recommend-nan-reference", rec + ["--reference", ref_nan], names="ref.json"),
      Case("music-recommend-short-reference", rec + ["--reference", ref_short], names="ref-short.json"),
      Case("music-recommend-reference-without-key", rec + ["--reference", ref_missing_key],
           names="ref-key.json"),
      Case("music-recommend-bad-detections", rec + ["--detections", dets_bad], names="dets.json"),
      Case("music-recommend-detections-not-json", rec + ["--detections", c.bad_json], names="bad.json"),
      Case("music-recommend-bad-method", rec + ["--method", "C"], names="--method"),
      Case("music-recommend-seed-negative", rec + ["--seed", "-1"], names="--seed"),
      Case("music-recommend-plot-unwritable", rec + ["--plot", c.unwritable], names="--plot"),
      Case("music-recommend-bad-expression-model", rec[:-2] + ["--expression-model", c.empty, "--json"],
           names="empty.png"),
      Case("music-recommend-16-bit-gray", ["music", "recommend", c.gray16, "--songs", good_songs,
                                           "--no-faces", "--json"], invalid=False, check=_recommended),
      Case("music-batch-threshold-2", ["music", "batch", c.folder, "--songs", good_songs,
                                       "--score-threshold", "2"], names="--score-threshold"),
      Case("music-batch-bad-rle", ["music", "batch", c.photo, "--songs", good_songs, "--no-faces",
                                   "--coco-detections", rle_bad, "--coco-categories", categories],
           names="coco-dets.json"),
      Case("music-expressions-missing", ["music", "expressions", c.missing], names="does-not-exist.png"),
      Case("music-evaluate-nan-user", ["music", "evaluate", "--user-quadrants", users_bad,
                                          "--system-quadrants", system_ok],
           names="users.csv:2"),
      Case("music-train-expression-bad-pixels", ["music", "train-expression", fer_bad_px, "--out",
                                                 os.path.join(c.root, "e.msgpack"), "--tiny"],
           names="fer-px.csv:2"),
      Case("music-train-expression-steps-0", ["music", "train-expression", fer_bad_px, "--out",
                                              os.path.join(c.root, "e.msgpack"), "--steps", "0"],
           names="--steps"),
      Case("music-train-expression-batch-0", ["music", "train-expression", fer_bad_px, "--out",
                                              os.path.join(c.root, "e.msgpack"), "--batch-size", "0"],
           names="--batch-size"),
      Case("music-train-expression-out-unwritable", ["music", "train-expression", fer_bad_px, "--out",
                                                     c.unwritable], names="--out"),
      # Readers.
      Case("music-songs-nan", call=lambda: songs.load_songs(nan_song), names="songs-nan.csv:3"),
      Case("music-songs-missing", call=lambda: songs.load_songs(c.missing), names="does-not-exist"),
      Case("music-deam-nan", call=lambda: songs.load_songs(deam_nan), names="static_annotations"),
      Case("music-lexicon-empty", call=lambda: lexicon.load_lexicon(empty_lex), names="lex-empty.csv"),
      Case("music-lexicon-binary", call=lambda: lexicon.load_lexicon(c.truncated_jpg), names="truncated.jpg"),
      Case("music-reference-nan", call=lambda: pipeline.load_reference_means(ref_nan), names="ref.json"),
      Case("music-fer-bad-label", call=lambda: expression.read_fer2013(fer_bad_label), names="fer-label.csv:2"),
      Case("music-fer-empty", call=lambda: expression.read_fer2013(fer_empty), names="fer-empty.csv"),
      Case("music-study-nan", call=lambda: evaluate.read_user_quadrants(users_bad), names="users.csv:2"),
      Case("music-coco-bad-rle", call=lambda: coco.decode_rle({"size": [4, 4], "counts": "!!"}),
           names="counts"),
  ]
