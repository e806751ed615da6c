"""MTCNN face detection throughput: jaxvis (one jitted cascade per batch) vs the `mtcnn` package.

Frames are real photos (skimage / sklearn samples) with real lfw faces pasted
in, at 640x480 and 1920x1080; batches of 1, 16 and 64. The `mtcnn` package
(TensorFlow) runs on the same frames in the same process, same thresholds.

  python benchmarks/faces.py [--quick] [--no-reference]
"""

from __future__ import annotations

import time

import common
import jax
import numpy as np

from jaxvis.faces import cascade, samples, weights

THRESHOLDS = (0.6, 0.7, 0.7)


def time_reference(frames: np.ndarray, batch: int, repeats: int) -> float:
  """Seconds per batch of the mtcnn package (batched call, as its docs show)."""
  from mtcnn import MTCNN
  ref = MTCNN()
  items = [f for f in frames[:batch]]
  ref.detect_faces(items if batch > 1 else items[0], threshold_onet=THRESHOLDS[2])  # warm-up
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    ref.detect_faces(items if batch > 1 else items[0], threshold_onet=THRESHOLDS[2])
    times.append(time.perf_counter() - t0)
  return float(np.median(times))


def main() -> None:
  args = common.parse_args(__doc__.splitlines()[0], extra=[
      (("--no-reference",), {"action": "store_true", "help": "skip timing the mtcnn package"}),
      (("--dtype",), {"default": "float32", "choices": ["float32", "bfloat16"]}),
      (("--sizes",), {"nargs": "+", "default": None, "help": "HxW frame sizes (default 480x640 1080x1920)"}),
      (("--batches",), {"nargs": "+", "type": int, "default": None, "help": "batch sizes (default 1 16 64)"}),
  ])
  sizes = [tuple(int(v) for v in s.split("x")) for s in (args.sizes or ["480x640", "1080x1920"])]
  batches = args.batches or [1, 16, 64]
  configs = [((480, 640), 1), ((480, 640), 4)] if args.quick else [
      (hw, b) for hw in sizes for b in batches]
  repeats = args.repeats or (1 if args.quick else 3)
  params = weights.load_pretrained()
  dtype = jax.numpy.bfloat16 if args.dtype == "bfloat16" else jax.numpy.float32
  for (h, w), batch in configs:
    frames = samples.frames(batch, h, w, seed=batch)
    run = lambda x: cascade.detect(params, x, None, 20, THRESHOLDS, 0.709, dtype=dtype)
    x = jax.device_put(frames)
    compile_s, seconds = common.measure(run, x, repeats=repeats)
    faces = int(np.asarray(run(x).valid).sum())
    rec = {"bench": "faces", "impl": "jaxvis", "batch": batch, "height": h, "width": w,
           "dtype": args.dtype, "items_per_s": batch / seconds, "compile_s": compile_s,
           "faces_found": faces}
    if not args.no_reference:
      ref_s = time_reference(frames, batch, repeats)
      common.emit({"bench": "faces", "impl": "mtcnn", "batch": batch, "height": h, "width": w,
                   "dtype": "float32", "items_per_s": batch / ref_s, "compile_s": 0.0})
      rec["speedup_vs_mtcnn"] = round(ref_s / seconds, 3)
    common.emit(rec)


if __name__ == "__main__":
  main()
