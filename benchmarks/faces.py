"""MTCNN face detection throughput, side by side: jaxvis, the `mtcnn` package, facenet-pytorch.

Frames are real photos (skimage / sklearn samples) with real lfw faces pasted in
(`jaxvis.faces.samples.frames`), at 640x480 and 1920x1080, batches of 1 and 16.
All implementations run on the same frames with the same thresholds (0.6, 0.7,
0.7), min face 20 px, scale factor 0.709; each is called once (jaxvis: compile +
run, reported as compile_s), warmed up, then the timed calls alternate between
them (`common.measure_interleaved`), so a change of machine load slows all alike.
Each peer runs in a process of its own (`--peers subprocess`, default), driven
call by call from this one, as users run them; `--peers same-process` loads
TensorFlow and torch into the jaxvis process instead (the form of sessions 6-9;
session 9's "their presence slows jaxvis ~25%" was not confirmed in session 10,
see docs/faces.md). facenet-pytorch
is timed only when installed; its import needs a torchvision that matches torch
(here: a side virtualenv with torch==2.14.1, torchvision==0.29.1 and `pip install
--no-deps facenet-pytorch`, whose site-packages reach this project's through a
.pth file; PyPI's torchvision beside the CPU torch 2.13 fails).

  python benchmarks/faces.py [--quick] [--no-reference] [--peers subprocess|same-process]
      [--sizes 480x640 1080x1920] [--batches 1 16] [--distinct N] [--one-pass] [--also-xla]

Each jaxvis record carries `first_pass_overflow`: how many frames filled a cap on the
first pass and were re-run with larger caps (the user path's extra cost). `--one-pass`
also times that first pass alone (`grow=False`, the same compiled program; impl
"jaxvis_one_pass"). `--distinct N` builds a batch larger than N from N distinct frames
repeated (making 256 full-HD frames takes minutes of one CPU core; the device's time is
short). A configuration that runs out of device memory is recorded as such and skipped.
Records say `kernels`: on a CPU the pyramid and networks run as native kernels
(`pyramid.build_mosaic`, `faces.native_nets`) unless they cannot be built here; `--also-xla`
times the XLA forms beside them.
"""

from __future__ import annotations

import multiprocessing
import os

import common
import jax
import numpy as np

from jaxvis.faces import cascade, samples, weights

THRESHOLDS = (0.6, 0.7, 0.7)


def jaxvis_runner(params, dtype, grow: bool = True, kernels: str = "auto"):
  """The user path: `cascade.detect` with its default caps and overflow re-runs
  (`grow=False`: the first pass alone, one compiled program; `kernels`: as
  `CascadeConfig.kernels`)."""
  def run(x):
    return cascade.detect(params, x, None, 20, THRESHOLDS, 0.709, dtype=dtype, grow=grow, kernels=kernels)
  return run, lambda out: int(np.asarray(out.valid).sum())


def bench_frames(batch: int, h: int, w: int, distinct: int) -> np.ndarray:
  """`samples.frames(batch, ...)`, or `distinct` of them repeated to fill a larger batch."""
  if not distinct or batch <= distinct:
    return samples.frames(batch, h, w, seed=batch)
  made = samples.frames(distinct, h, w, seed=batch)
  return np.concatenate([made] * -(-batch // distinct))[:batch]


def out_of_memory(e: Exception) -> bool:
  return "RESOURCE_EXHAUSTED" in str(e) or "out of memory" in str(e).lower()


def mtcnn_runner():
  """The `mtcnn` package (TensorFlow), or None where TensorFlow is missing (the device image)."""
  try:
    from mtcnn import MTCNN
  except ImportError as e:
    common.log(f"mtcnn package not timed: {e}")
    return None
  ref = MTCNN()
  def run(frames):
    items = list(frames) if len(frames) > 1 else frames[0]
    return ref.detect_faces(items, threshold_onet=THRESHOLDS[2], output_type="numpy")
  return run, lambda out: int(len(out))


def facenet_runner():
  """facenet-pytorch's MTCNN (its own P/R/O weights), or None when not installed."""
  try:
    import torch
    from facenet_pytorch import MTCNN
  except ImportError:
    return None
  torch.set_grad_enabled(False)
  device = "cuda" if torch.cuda.is_available() else "cpu"  # on the accelerator, as jaxvis is
  m = MTCNN(keep_all=True, device=device, min_face_size=20, thresholds=list(THRESHOLDS), factor=0.709,
            post_process=False)
  def run(frames):
    return m.detect(frames if len(frames) > 1 else frames[0])
  def count(out):
    boxes = out[0]
    if boxes is None:
      return 0
    if np.ndim(boxes) == 2:  # one frame: (n, 4) (its dtype may be object)
      return int(len(boxes))
    return int(sum(0 if b is None else len(b) for b in boxes))  # a batch: (B,) of (n, 4) or None
  return run, count


# The peers by name, in the order they are loaded (torch before TensorFlow, see main).
PEER_RUNNERS = {"facenet_pytorch": facenet_runner, "mtcnn": mtcnn_runner}


def main() -> None:
  args = common.parse_args(__doc__.splitlines()[0], extra=[
      (("--no-reference",), {"action": "store_true", "help": "time jaxvis only"}),
      (("--dtype",), {"default": "float32", "choices": ["float32", "bfloat16"]}),
      (("--sizes",), {"nargs": "+", "default": None, "help": "HxW frame sizes (default 480x640 1080x1920)"}),
      (("--batches",), {"nargs": "+", "type": int, "default": None, "help": "batch sizes (default 1 16)"}),
      (("--warmup",), {"type": int, "default": 1, "help": "untimed calls after the first"}),
      (("--distinct",), {"type": int, "default": 0,
                         "help": "distinct frames in a batch, repeated to fill larger ones (0: all)"}),
      (("--one-pass",), {"action": "store_true", "help": "also time the first pass alone (grow=False)"}),
      (("--also-xla",), {"action": "store_true",
                         "help": "also time the XLA pyramid and networks (kernels='xla', impl 'jaxvis_xla')"}),
      (("--peers",), {"default": "subprocess", "choices": ["subprocess", "same-process"],
                      "help": "run each peer in a process of its own (default) or in this one"}),
  ])
  sizes = [tuple(int(v) for v in s.split("x")) for s in (args.sizes or ["480x640", "1080x1920"])]
  batches = args.batches or [1, 16]
  configs = [((480, 640), 1), ((480, 640), 4)] if args.quick else [(hw, b) for hw in sizes for b in batches]
  repeats = args.repeats or (1 if args.quick else 3)
  params = weights.load_pretrained()
  dtype = jax.numpy.bfloat16 if args.dtype == "bfloat16" else jax.numpy.float32
  peers = {}
  if not args.no_reference:
    # torch before TensorFlow: the other order segfaults at facenet-pytorch's first call
    # (torch 2.14.1 + TF 2.21 in one process, seen here).
    for name, make in PEER_RUNNERS.items():
      runner = PeerProcess(name) if args.peers == "subprocess" else make()
      if runner is not None and getattr(runner, "available", True):
        peers[name] = runner
  for (h, w), batch in configs:
    frames = bench_frames(batch, h, w, args.distinct)
    base = {"bench": "faces", "device": common.device_name(), "batch": batch, "height": h, "width": w,
            "repeats": repeats, "peers": args.peers, "distinct_frames": min(batch, args.distinct or batch)}
    try:
      bench_config(params, dtype, frames, peers, args, repeats, base)
    except Exception as e:  # the largest batches on a device: record and go on
      if not out_of_memory(e):
        raise
      common.emit({**base, "impl": "jaxvis", "dtype": args.dtype, "items_per_s": None,
                   "error": "out of device memory"})


def bench_config(params, dtype, frames, peers, args, repeats, base) -> None:
  """Times one (size, batch) configuration: jaxvis beside the peers, interleaved."""
  batch = len(frames)
  run, count = jaxvis_runner(params, dtype)
  one_pass, _ = jaxvis_runner(params, dtype, grow=False)
  x = jax.device_put(frames)
  for peer in peers.values():
    if isinstance(peer, PeerProcess):
      peer.load(frames)
  xla_run, _ = jaxvis_runner(params, dtype, kernels="xla")
  ours = ([(run, (x,))] + ([(one_pass, (x,))] if args.one_pass else [])
          + ([(xla_run, (x,))] if args.also_xla else []))
  timed = common.measure_interleaved(ours + [(r, (frames,)) for r, _ in peers.values()],
                                     repeats=repeats, warmup=args.warmup)
  first = one_pass(x)  # the first pass alone: which frames re-ran, and its faces
  first_pass_overflow = int(np.asarray(first.overflow).sum())
  counts = [count(run(x))] + [c(r(frames)) for r, c in peers.values()]
  base = {**base, "load_avg_1m": round(os.getloadavg()[0], 2)}
  ours_s = timed[0][1]
  native = cascade.native_kernels(cascade.CascadeConfig(dtype=dtype))
  rec = {**base, "impl": "jaxvis", "dtype": args.dtype, "kernels": "native" if native else "xla",
         "items_per_s": batch / ours_s, "compile_s": timed[0][0], "faces_found": counts[0],
         "first_pass_overflow": first_pass_overflow}
  if args.one_pass:
    common.emit({**base, "impl": "jaxvis_one_pass", "dtype": args.dtype, "kernels": rec["kernels"],
                 "items_per_s": batch / timed[1][1], "compile_s": timed[1][0], "faces_found": count(first)})
  if args.also_xla:
    xla_s = timed[len(ours) - 1]
    common.emit({**base, "impl": "jaxvis_xla", "dtype": args.dtype, "kernels": "xla",
                 "items_per_s": batch / xla_s[1], "compile_s": xla_s[0], "faces_found": count(xla_run(x))})
    rec["speedup_vs_jaxvis_xla"] = round(xla_s[1] / ours_s, 3)
  for (name, _), (_, secs), found in zip(peers.items(), timed[len(ours):], counts[1:]):
    common.emit({**base, "impl": name, "dtype": "float32", "items_per_s": batch / secs,
                 "compile_s": 0.0, "faces_found": found})
    rec[f"speedup_vs_{name}"] = round(secs / ours_s, 3)
  common.emit(rec)


class PeerProcess:
  """A peer detector in a child process of its own, called from this one like a runner.

  Unpacks as (run, count), as `facenet_runner()` and `mtcnn_runner()` do. `load(frames)`
  sends a configuration's frames once; each `run(frames)` then only asks the child to
  detect on its copy and waits for the face count (a pipe round trip: ~23 us median,
  35 us p99 measured here, against calls of 40 ms and more). `available` is False where the
  peer does not import in the child (then it is not timed, as in-process).
  """

  def __init__(self, name: str):
    ctx = multiprocessing.get_context("spawn")
    self._conn, child = ctx.Pipe()
    self._proc = ctx.Process(target=_peer_main, args=(child, name), daemon=True)
    self._proc.start()
    self.available = self._conn.recv()

  def load(self, frames) -> None:
    self._conn.send(("load", frames))
    self._conn.recv()

  def run(self, frames) -> int:
    self._conn.send(("run", None))
    return self._conn.recv()

  def __iter__(self):
    return iter((self.run, lambda found: found))


def _peer_main(conn, name: str) -> None:
  """Child process: builds the peer runner, then serves load / run requests until closed."""
  made = PEER_RUNNERS[name]()
  conn.send(made is not None)
  if made is None:
    return
  run, count = made
  frames = None
  while True:
    try:
      op, payload = conn.recv()
    except EOFError:
      return
    if op == "load":
      frames = payload
      conn.send(True)
    else:
      conn.send(count(run(frames)))


if __name__ == "__main__":
  main()
