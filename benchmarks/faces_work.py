"""How much arithmetic the MTCNN cascade needs per frame, and the time that takes at this CPU's peak.

For the frames `benchmarks/faces.py` times (`samples.frames(batch, h, w, seed=batch)`), it
counts what any exact implementation must evaluate: P-Net over every pyramid level (the
levels themselves, not a mosaic's padding), R-Net on every P-Net survivor and O-Net on every
R-Net survivor (counted by running jaxvis' stages, whose candidates equal the `mtcnn`
package's). FLOPs are XLA's own count for the plain networks (`conv_impl="plain"`: the
paper's layers, not jaxvis' CPU block form, which multiplies more). The floor is that
work at the measured float32 matmul rate of this machine (`common.matmul_flops_per_s`),
the best case for dense arithmetic; the pyramid, NMS and crops are not in it, so the true
floor is higher. Compare `floor_ms_per_frame` with the frame times of `benchmarks/faces.py`.

  python benchmarks/faces_work.py [--quick] [--sizes 480x640 1080x1920] [--batches 1 4 16]
"""

from __future__ import annotations

import common
import jax
import jax.numpy as jnp

from jaxvis.faces import cascade, nets, pyramid, samples, weights

THRESHOLDS = (0.6, 0.7, 0.7)


def network_flops(params):
  """XLA's FLOPs of P-Net on an (h, w) image, and of R-Net / O-Net per crop (plain layers)."""
  pnet, rnet, onet = nets.PNet(conv_impl="plain"), nets.RNet(conv_impl="plain"), nets.ONet(conv_impl="plain")
  per_crop = 64  # FLOPs of a batch of crops, divided: per-call constants average out
  r = common.flops_of(lambda x: rnet.apply({"params": params["rnet"]}, x), jnp.zeros((per_crop, 24, 24, 3)))
  o = common.flops_of(lambda x: onet.apply({"params": params["onet"]}, x), jnp.zeros((per_crop, 48, 48, 3)))
  return (lambda h, w: common.flops_of(lambda x: pnet.apply({"params": params["pnet"]}, x),
                                       jnp.zeros((1, h, w, 3)))), r / per_crop, o / per_crop


def candidates(params, frames):
  """(R-Net inputs, O-Net inputs) of the whole batch, at the default settings."""
  b, h, w, _ = frames.shape
  cfg = cascade.CascadeConfig().resolved(h, w)
  norm = cascade.normalize(jnp.asarray(frames))
  sizes = jnp.tile(jnp.array([[h, w]], jnp.int32), (b, 1))
  thr = jnp.asarray(THRESHOLDS, jnp.float32)
  boxes, valid, over_p = jax.jit(lambda n: cascade._pnet_chunked(params["pnet"], n, sizes, cfg, thr[0]))(norm)
  _, _, valid_r, over_r = jax.jit(lambda n, bx, v: cascade.rnet_stage(params["rnet"], n, sizes, bx, v, cfg, thr[1]))(
      norm, boxes, valid)
  return int(valid.sum()), int(valid_r.sum()), bool(over_p.any() or over_r.any())


def main():
  args = common.parse_args(__doc__.splitlines()[0], [
      (("--sizes",), {"nargs": "+", "default": None, "help": "HxW frame sizes"}),
      (("--batches",), {"nargs": "+", "type": int, "default": None})])
  sizes = args.sizes or (["480x640"] if args.quick else ["480x640", "1080x1920"])
  batches = args.batches or ([1] if args.quick else [1, 4, 16])
  params = weights.load_pretrained()
  peak = common.matmul_flops_per_s("float32")
  pnet_flops, rnet_per_crop, onet_per_crop = network_flops(params)
  for size in sizes:
    h, w = (int(v) for v in size.split("x"))
    plan = pyramid.plan(h, w, 20.0, 0.709)
    p = sum(pnet_flops(lv.height, lv.width) for lv in plan.levels)
    for b in batches:
      n_r, n_o, overflow = candidates(params, samples.frames(b, h, w, seed=b))
      flops = p + (n_r * rnet_per_crop + n_o * onet_per_crop) / b
      common.emit({"bench": "faces_work", "dtype": "float32", "batch": b, "height": h, "width": w,
                   "items_per_s": round(peak / flops, 2),   # frames/s at the floor
                   "floor_ms_per_frame": round(1e3 * flops / peak, 2),
                   "matmul_gflop_per_s": round(peak / 1e9, 1),
                   "gflop_per_frame": {"pnet": round(p / 1e9, 3), "rnet": round(n_r * rnet_per_crop / b / 1e9, 3),
                                       "onet": round(n_o * onet_per_crop / b / 1e9, 3)},
                   "level_pixels": sum(lv.height * lv.width for lv in plan.levels),
                   "rnet_inputs_per_frame": round(n_r / b, 1), "onet_inputs_per_frame": round(n_o / b, 1),
                   "overflow": overflow})


if __name__ == "__main__":
  main()
