"""Attribution baselines: jaxvis vs Google PAIR `saliency.core` on the same jitted Flax model.

    python benchmarks/saliency_methods.py                 # batch 1 and 8, 25 samples / steps
    python benchmarks/saliency_methods.py --quick         # batch 4, 8 samples
    python benchmarks/saliency_methods.py --batches 8 --samples 50 --chunk-size 64

Model: the shipped cluttered-digits black box (a trained SmallCNN on 64x64 RGB canvases). PAIR
calls it through `jaxvis.saliency.pair.call_model_function` (jitted input gradients, or jitted
feature map + gradients for Grad-CAM), image after image, as its API works; its IG is timed with
its default `batch_size=1` and with `batch_size=steps` (its fastest). jaxvis runs all images and
all samples of a method as one jitted batched call (`--chunk-size` caps the model inputs per call).

One JSON line per (method, batch): `items_per_s` (maps/s, jaxvis), `pair_items_per_s`,
`speed_ratio` (jaxvis / PAIR; > 1 = jaxvis faster), and `values`: the agreement on these inputs
(gradient: max |difference|; IG with PAIR's "linspace" rule, SmoothGrad with PAIR's mean g^2
aggregation on the same noise draws: correlation; Grad-CAM with PAIR's normalisation and border:
max |difference|). The timed calls of both libraries alternate (`common.measure_interleaved`).
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np

import common
from jaxvis.nn.classifiers import SmallCNN
from jaxvis.saliency import attribution as A
from jaxvis.saliency import methods as M
from jaxvis.saliency import pair
from jaxvis.saliency import pretrained


def _corr(a, b) -> float:
  return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def _pair_noise(images: np.ndarray, samples: int, seed: int) -> np.ndarray:
  """The standard normals PAIR's GetSmoothedMask draws after np.random.seed(seed), as (S, N, ...)."""
  np.random.seed(seed)
  return np.stack([np.stack([np.random.normal(0, 1, x.shape) for _ in range(samples)]) for x in images], axis=1)


def run(batch: int, samples: int, chunk_size: int | None, repeats: int, sc) -> None:
  models, _ = pretrained.load()
  cnn, v = models.classifier, models.classifier_variables
  clf = lambda x: cnn.apply(v, x)
  feats = lambda x: cnn.apply(v, x, method=SmallCNN.features)
  head = lambda f: cnn.apply(v, f, method=SmallCNN.head)
  call = pair.call_model_function(clf, feats, head)
  x = np.asarray(jax.random.uniform(jax.random.key(0), (batch, 64, 64, 3)), np.float32)
  ids = np.asarray(jnp.argmax(clf(jnp.asarray(x)), -1), np.int32)
  xj, idj = jnp.asarray(x), jnp.asarray(ids)
  # IG baseline: faint fixed noise, not black: the model standardises each image, and the gradient
  # of a std at a constant image is NaN (both libraries; PAIR's rule evaluates alpha = 0 exactly).
  base = np.asarray(0.05 * jax.random.uniform(jax.random.key(2), x.shape[1:]), np.float32)
  args = [{"class_id": int(c)} for c in ids]

  ours = {
      "gradient": jax.jit(lambda im, c: A.input_gradients(clf, im, c)),
      "smoothgrad": jax.jit(lambda im, c: A.smoothgrad_attribution(clf, im, c, jax.random.key(1), samples,
                                                                    chunk_size=chunk_size)),
      "integrated_gradients": jax.jit(lambda im, c: A.integrated_gradients_attribution(
          clf, im, c, base, num_steps=samples, rule="linspace", chunk_size=chunk_size)),
      "grad_cam": jax.jit(lambda im, c: M.grad_cam(feats, head, im, c, normalisation="before_resize",
                                                   border="mirror")),
  }
  theirs = {
      "gradient": lambda: np.stack([sc.GradientSaliency().GetMask(xi, call, a) for xi, a in zip(x, args)]),
      "smoothgrad": lambda: np.stack([sc.GradientSaliency().GetSmoothedMask(xi, call, a, nsamples=samples)
                                      for xi, a in zip(x, args)]),
      "integrated_gradients": lambda bs=1: np.stack([sc.IntegratedGradients().GetMask(
          xi, call, a, x_baseline=base, x_steps=samples, batch_size=bs) for xi, a in zip(x, args)]),
      "grad_cam": lambda: np.stack([sc.GradCam().GetMask(xi, call, a, three_dims=False) for xi, a in zip(x, args)]),
  }

  # Values on these inputs (SmoothGrad on PAIR's own noise draws: common random numbers).
  values = {}
  for name in ("gradient", "integrated_gradients", "grad_cam"):
    a, b = np.asarray(ours[name](xj, idj)), theirs[name]()
    values[name] = {"max_abs_diff": float(np.max(np.abs(a - b))), "max_abs": float(np.max(np.abs(b))),
                    "correlation": _corr(a, b)}
  np.random.seed(11)
  b = theirs["smoothgrad"]()
  a = np.asarray(A.smoothgrad_attribution(clf, xj, idj, noise=_pair_noise(x, samples, 11)))
  values["smoothgrad"] = {"correlation_same_noise": _corr(a, b), "max_rel_diff": float(np.max(np.abs(a - b)) / np.max(b)),
                          "correlation_independent_noise": _corr(np.asarray(ours["smoothgrad"](xj, idj)), b)}

  for name in ("gradient", "smoothgrad", "integrated_gradients", "grad_cam"):
    calls = [(ours[name], (xj, idj)), (theirs[name], ())]
    if name == "integrated_gradients":
      calls.append((lambda: theirs[name](samples), ()))
    timed = common.measure_interleaved(calls, repeats=repeats)
    (compile_s, t_ours), (_, t_pair) = timed[0], timed[1]
    rec = {"bench": "saliency_methods", "method": name, "dtype": "float32", "batch": batch,
           "samples": samples if name in ("smoothgrad", "integrated_gradients") else 1,
           "chunk_size": chunk_size, "items_per_s": batch / t_ours, "compile_s": compile_s,
           "pair_items_per_s": round(batch / t_pair, 4), "speed_ratio": round(t_pair / t_ours, 3)}
    if name == "integrated_gradients":
      t_best = timed[2][1]
      rec.update(pair_batched_items_per_s=round(batch / t_best, 4), speed_ratio_vs_pair_batched=round(t_best / t_ours, 3))
    rec.update(values=values[name], load_avg=[round(l, 2) for l in os.getloadavg()])
    common.emit(rec)


def _import_pair():
  """PAIR's `saliency.core` (a test/benchmark dependency, not a runtime one)."""
  try:
    import saliency.core as sc
  except ImportError:
    raise SystemExit("benchmarks/saliency_methods.py needs Google PAIR's package: pip install saliency")
  return sc


def main() -> None:
  args = common.parse_args(__doc__.splitlines()[0], [
      (("--batches",), {"default": None, "help": "comma-separated image batch sizes (default 1,8)"}),
      (("--samples",), {"type": int, "default": None, "help": "SmoothGrad samples / IG steps (default 25, PAIR's)"}),
      (("--chunk-size",), {"type": int, "default": None, "help": "jaxvis: max model inputs per call"}),
  ])
  sc = _import_pair()
  batches = [int(b) for b in (args.batches or ("4" if args.quick else "1,8")).split(",")]
  samples = args.samples or (8 if args.quick else 25)
  repeats = args.repeats or (3 if args.quick else 5)
  if jax.default_backend() == "cpu":
    jax.config.update("jax_threefry_partitionable", False)
  for batch in batches:
    run(batch, samples, args.chunk_size, repeats, sc)


if __name__ == "__main__":
  main()
