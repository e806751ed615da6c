"""Attribution baselines: jaxvis vs Google PAIR `saliency.core` on the same jitted Flax model.

    python benchmarks/saliency_methods.py                 # batch 1 and 8, 25 samples / steps
    python benchmarks/saliency_methods.py --quick         # batch 4, 8 samples
    python benchmarks/saliency_methods.py --batches 8 --samples 50 --chunk-size 64 --methods integrated_gradients,xrai

Model: the shipped cluttered-digits black box (a trained SmallCNN on 64x64 RGB canvases). PAIR
calls it through `jaxvis.saliency.pair.call_model_function` (one jitted program per request kind:
input gradients, logits, feature map + gradients), image after image, as its API works; where PAIR
has a `batch_size` option (IG, Blur IG, XRAI's IG) it is timed with its default 1 and with
`batch_size = steps` (one call per image and path), and the faster is the reference. jaxvis is
called through its public functions as a user would (outside `jax.jit` they compile themselves
with the CPU memory-scheduler option, `attribution.compiler_options()`); Grad-CAM, a single call,
through `jax.jit`. `--chunk-size` caps jaxvis's model inputs per call (default: 32 per gradient
call, 64 per forward call on the CPU).

One JSON line per (method, batch): `items_per_s` (maps/s, jaxvis), `pair_items_per_s` (PAIR's
faster variant), `speed_ratio` (PAIR's time / jaxvis's; > 1 = jaxvis faster), the PAIR variants'
own rates, `values` (the agreement on these inputs: gradient, occlusion, Grad-CAM max |difference|;
IG with PAIR's "linspace" rule, Blur IG, XRAI: correlation and max |difference|; SmoothGrad with
PAIR's mean g^2 on the same noise draws: correlation) and the load average before and after. The
timed calls of all variants alternate (`common.measure_interleaved`, median of the repeats).
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
from jaxvis.saliency import xrai

METHODS = ("gradient", "smoothgrad", "integrated_gradients", "grad_cam", "occlusion", "blur_ig", "xrai")
SLOW = ("occlusion", "xrai")  # PAIR takes seconds per image: fewer repeats


def _corr(a, b) -> float:
  return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def _agreement(a, b) -> dict:
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  return {"max_abs_diff": float(np.max(np.abs(a - b))), "max_abs": float(np.max(np.abs(b))),
          "correlation": _corr(a, b)}


def _pair_noise(images: np.ndarray, samples: int, seed: int) -> np.ndarray:
  """The standard normals PAIR's GetSmoothedMask draws after np.random.seed(seed), as (S, N, ...)."""
  np.random.seed(seed)
  return np.stack([np.stack([np.random.normal(0, 1, x.shape) for _ in range(samples)]) for x in images], axis=1)


def _load() -> list[float]:
  return [round(v, 2) for v in os.getloadavg()]


def run(batch: int, samples: int, chunk_size: int | None, repeats: int, sc, methods) -> None:
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
  xrai_params = sc.XRAIParameters(steps=samples)
  cam = jax.jit(lambda im, c: M.grad_cam(feats, head, im, c, normalisation="before_resize", border="mirror"))

  ours = {
      "gradient": lambda: A.input_gradients(clf, xj, idj),
      "smoothgrad": lambda: A.smoothgrad_attribution(clf, xj, idj, jax.random.key(1), samples, chunk_size=chunk_size),
      "integrated_gradients": lambda: A.integrated_gradients_attribution(
          clf, xj, idj, base, num_steps=samples, rule="linspace", chunk_size=chunk_size),
      "grad_cam": lambda: cam(xj, idj),
      "occlusion": lambda: A.occlusion_attribution(clf, xj, idj, size=15, chunk_size=chunk_size),
      "blur_ig": lambda: A.blur_ig_attribution(clf, xj, idj, num_steps=samples, chunk_size=chunk_size),
      "xrai": lambda: xrai.xrai_attribution(clf, xj, idj, num_steps=samples, chunk_size=chunk_size),
  }
  each = lambda f: (lambda: np.stack([f(xi, a) for xi, a in zip(x, args)]))
  theirs = {
      "gradient": {"default": each(lambda xi, a: sc.GradientSaliency().GetMask(xi, call, a))},
      "smoothgrad": {"default": each(lambda xi, a: sc.GradientSaliency().GetSmoothedMask(xi, call, a,
                                                                                        nsamples=samples))},
      "integrated_gradients": {f"batch_size={bs}": each(lambda xi, a, bs=bs: sc.IntegratedGradients().GetMask(
          xi, call, a, x_baseline=base, x_steps=samples, batch_size=bs)) for bs in (1, samples)},
      "grad_cam": {"default": each(lambda xi, a: sc.GradCam().GetMask(xi, call, a, three_dims=False))},
      "occlusion": {"default": each(lambda xi, a: sc.Occlusion().GetMask(xi, call, a, size=15))},
      "blur_ig": {f"batch_size={bs}": each(lambda xi, a, bs=bs: sc.BlurIG().GetMask(
          xi, call, a, steps=samples, batch_size=bs)) for bs in (1, samples)},
      "xrai": {f"batch_size={bs}": each(lambda xi, a, bs=bs: sc.XRAI().GetMask(
          xi, call, a, batch_size=bs, extra_parameters=xrai_params)) for bs in (1, samples)},
  }

  for name in methods:
    load_before = _load()
    # Values on these inputs (SmoothGrad on PAIR's own noise draws: common random numbers).
    if name == "smoothgrad":
      np.random.seed(11)
      b = theirs[name]["default"]()
      a = np.asarray(A.smoothgrad_attribution(clf, xj, idj, noise=_pair_noise(x, samples, 11), chunk_size=chunk_size))
      values = {"correlation_same_noise": _corr(a, b), "max_rel_diff": float(np.max(np.abs(a - b)) / np.max(b)),
                "correlation_independent_noise": _corr(np.asarray(ours[name]()), b)}
    else:
      values = _agreement(ours[name](), next(iter(theirs[name].values()))())
    variants = list(theirs[name].items())
    calls = [(ours[name], ())] + [(f, ()) for _, f in variants]
    timed = common.measure_interleaved(calls, repeats=3 if name in SLOW else repeats)
    compile_s, t_ours = timed[0]
    pair_times = {label: t for (label, _), (_, t) in zip(variants, timed[1:])}
    best = min(pair_times, key=pair_times.get)
    rec = {"bench": "saliency_methods", "method": name, "dtype": "float32", "batch": batch,
           "samples": 1 if name in ("gradient", "grad_cam", "occlusion") else samples,
           "chunk_size": chunk_size, "items_per_s": batch / t_ours, "compile_s": compile_s,
           "pair_items_per_s": round(batch / pair_times[best], 4), "pair_variant": best,
           "speed_ratio": round(pair_times[best] / t_ours, 3),
           "pair_variants_items_per_s": {k: round(batch / t, 4) for k, t in pair_times.items()},
           "values": values, "load_avg_before": load_before, "load_avg_after": _load()}
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
      (("--samples",), {"type": int, "default": None,
                        "help": "SmoothGrad samples / IG, Blur IG and XRAI steps (default 25, PAIR's for the first two)"}),
      (("--chunk-size",), {"type": int, "default": None, "help": "jaxvis: max model inputs per call"}),
      (("--methods",), {"default": ",".join(METHODS), "help": "comma-separated, any of " + ", ".join(METHODS)}),
  ])
  sc = _import_pair()
  methods = [m.strip() for m in args.methods.split(",") if m.strip()]
  unknown = [m for m in methods if m not in METHODS]
  if unknown:
    raise SystemExit(f"--methods: unknown {unknown}; expected any of {', '.join(METHODS)}")
  batches = [int(b) for b in (args.batches or ("4" if args.quick else "1,8")).split(",")]
  samples = args.samples or (8 if args.quick else 25)
  repeats = args.repeats or (3 if args.quick else 5)
  if jax.default_backend() == "cpu":
    jax.config.update("jax_threefry_partitionable", False)
  for batch in batches:
    run(batch, samples, args.chunk_size, repeats, sc, methods)


if __name__ == "__main__":
  main()
