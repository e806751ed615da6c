"""Image-to-music pipeline throughput (images/s) at batch 1 and 64, and each step's share.

Method B on 256x256 scikit-image photos with 2 object regions and a 10-word caption each.
Steps, timed separately (device steps via `common.measure`, host steps with a clock):
  expression  - the bundled FER2013 mini-Xception on one 64x64 face per image (device)
  colors      - k-means (k=3, 4 host-seeded starts) on every region's 32x32 sampled
                pixels + CIEDE2000 naming (device; the starts are drawn on the host)
  caption     - colour/expression insertion + word-vector lookup (host + one gather)
  impressions - top-5 impression words and weighted AV points (device)
  clusters    - spherical k-means (k=4) on each image's points (device)
  songs       - quadrant counts, narrowing, nearest songs (device)
Run: python benchmarks/music.py [--quick]
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

import common
from jaxvis.music import expression, extract, fer_model, plane, synthetic
from jaxvis.music.lexicon import default_lexicon
from jaxvis.music.pipeline import MusicConfig
from jaxvis.music.wordvec import WordVectors
from jaxvis.ops import color

CAPTION = "a smiling woman sitting on a wooden bench in a quiet green park with a dog"


def make_inputs(batch: int, size: int = 256, seed: int = 0):
  """Real photos (scikit-image), resized to `size`, cycled to fill the batch."""
  from PIL import Image
  from skimage import data
  photos = [np.asarray(Image.fromarray(getattr(data, n)()[..., :3]).resize((size, size)))
            for n in ("astronaut", "coffee", "chelsea", "rocket")]
  images = np.stack([photos[i % len(photos)] for i in range(batch)])
  masks = np.zeros((batch, 2, size, size), bool)
  masks[:, 0, 20:200, 30:150] = True
  masks[:, 1, 100:250, 120:250] = True
  rng = np.random.default_rng(seed)
  faces = rng.uniform(0, 1, (batch, 64, 64, 1)).astype(np.float32)
  return images, masks, faces


def main() -> None:
  args = common.parse_args(__doc__.splitlines()[0])
  run(batches=(1, 8) if args.quick else (1, 64), repeats=args.repeats or (3 if args.quick else 5))


def run(batches=(1, 64), repeats: int = 5) -> None:
  """One JSON line per batch size (benchmarks/accelerator.py calls this too)."""
  wv = WordVectors.bundled()
  lex = default_lexicon()
  imp_vecs, _ = wv.vectors_for(list(lex.words))
  imp_va = jnp.asarray(lex.va)
  table = color.named_colors("xkcd")
  table_lab = jnp.asarray(table.lab)
  songs = synthetic.illustrative_songs(1802)        # DEAM's size
  song_va = jnp.asarray(songs.va)
  model, variables, _ = fer_model.pretrained()
  cfg = MusicConfig()
  seed = 0

  @jax.jit
  def name_step(centres):
    idx, _ = color.nearest_color(color.srgb_to_lab(centres), table_lab)
    return idx

  def colors_step(pixels, weights, seed):
    # Host-drawn k-means++ starts (`music.seeding`), batched Lloyd on device, naming.
    centres, shares = extract.dominant_colors(pixels, weights, seed, cfg.color_clusters,
                                              cfg.color_starts)
    return name_step(centres), shares

  def impressions_step(vecs, weights, valid):
    return plane.impression_points(vecs, weights, valid, imp_vecs, imp_va, 5, "similarity")

  def clusters_step(pts, ok, seed):
    return plane.cluster_points(pts, ok, seed, num_init=cfg.cluster_starts)

  @jax.jit
  def songs_step(pts, ok, centers, mass):
    counts = plane.quadrant_counts(pts, ok)
    q = plane.choose_quadrant(counts, jnp.ones(4))
    idx, _ = plane.nearest_songs(centers, song_va)
    chosen = (mass > 0) & (plane.quadrant_of(centers) == q[:, None])
    return q, idx, chosen

  for batch in batches:
    images, masks, faces = make_inputs(batch)
    times, compile_total = {}, 0.0

    c, times["expression"] = common.measure(
        lambda f: expression.predict_probs(model, variables, f), jnp.asarray(faces),
        repeats=repeats)
    compile_total += c

    pix, wts = zip(*(extract.region_pixels(images[i], masks[i], cfg.color_grid)
                     for i in range(batch)))
    pixels = jnp.asarray(np.stack(pix)[:, None].repeat(2, 1).reshape(batch * 2, -1, 3))
    weights = jnp.asarray(np.concatenate(wts))
    t0 = time.perf_counter()
    _ = [extract.region_pixels(images[i], masks[i], cfg.color_grid) for i in range(batch)]
    host_sampling = time.perf_counter() - t0
    c, t = common.measure(colors_step, pixels, weights, seed, repeats=repeats)
    times["colors"] = t + host_sampling
    compile_total += c
    idx, _ = colors_step(pixels, weights, seed)
    names = [table.names[i] for i in np.asarray(idx)[:, 0]]

    def caption_step():
      vecs, valids = [], []
      for i in range(batch):
        toks = extract.insert_expression(CAPTION.split(), "happy")
        toks, _ = extract.insert_colors(toks, [("person", names[2 * i]),
                                               ("bench", names[2 * i + 1])], wv)
        words = [t for t in toks if t not in ("a", "on", "in", "with")]
        words = (words + [""] * 32)[:32]
        v, f = wv.vectors_for(words)
        vecs.append(v)
        valids.append(f)
      return jnp.stack(vecs), jnp.asarray(np.stack(valids))
    caption_step()
    t0 = time.perf_counter()
    for _ in range(repeats):
      vecs, valid = caption_step()
    times["caption"] = (time.perf_counter() - t0) / repeats

    w = jnp.ones(valid.shape, jnp.float32)
    c, times["impressions"] = common.measure(impressions_step, vecs, w, valid, repeats=repeats)
    compile_total += c
    pts, _, ok = impressions_step(vecs, w, valid)
    ok = ok & (jnp.linalg.norm(pts, axis=-1) > 0)
    c, times["clusters"] = common.measure(clusters_step, pts, ok, seed, repeats=repeats)
    compile_total += c
    cl = clusters_step(pts, ok, seed)
    c, times["songs"] = common.measure(songs_step, pts, ok, cl.centers, cl.mass,
                                       repeats=repeats)
    compile_total += c

    total = sum(times.values())
    common.emit({"bench": "music", "impl": "jaxvis", "method": "B", "batch": batch,
                 "dtype": "float32", "image_size": 256, "items_per_s": batch / total,
                 "compile_s": compile_total, "seconds_per_batch": total,
                 "share": {k: round(v / total, 4) for k, v in times.items()}})


if __name__ == "__main__":
  main()
