"""Masks/s of the ResNet-50 masking model vs a plain ResNet-50 forward (same inputs), and training images/s.

    python benchmarks/saliency_model.py            # batch 1, 32, 256 at 224x224, float32 and bfloat16, + training
    python benchmarks/saliency_model.py --quick    # batch 1 and 4, float32, no training step (< 1 min)
    python benchmarks/saliency_model.py --batches 1,32 --repeats 3   # a subset
    python benchmarks/saliency_model.py --upsampler-base 256 --bottlenecks 1   # the authors' code's widths
    python benchmarks/saliency_model.py --upsample-kernel 3 --shortcut projection   # 3x3 up-conv, projection shortcut

Each masking record carries `ratio_to_resnet50` = its time per batch / a ResNet-50 forward's
at the same batch and dtype (the issue's floor: <= 1.6; the two programs' timed calls
alternate, so load changes during the run do not bias it), and both records carry XLA's FLOP
count (`gflop` per batch), so the ratio can be compared with the work each program does.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

import common
from jaxvis import train as jtrain
from jaxvis.nn import resnet
from jaxvis.nn.variables import init_variables
from jaxvis.saliency import model as model_lib
from jaxvis.saliency import objective as obj_lib
from jaxvis.saliency import train as train_lib
from jaxvis.saliency.explainer import MaskingParams, explain


def masking_config(upsampler_base: int = 768, bottlenecks: int = 3, upsample_kernel: int = 2,
                   shortcut: str = "upsampled", encoder: str = "resnet50"):
  """The paper-width ImageNet masking model (or the tiny-encoder variant for dry runs)."""
  cfg = model_lib.MaskingConfig.imagenet(1000, upsampler_base=upsampler_base,
                                         bottlenecks_per_upsampler=bottlenecks,
                                         upsample_kernel=upsample_kernel, shortcut=shortcut)
  return dataclasses.replace(cfg, encoder=encoder) if encoder != cfg.encoder else cfg


def _black_box(cfg):
  return resnet.ResNet50 if cfg.encoder == "resnet50" else resnet.ResNetTiny


def init_models(cfg, size: int):
  """(masking params, black-box module class, black-box variables) at `size` x `size`."""
  x0 = jnp.zeros((1, size, size, 3), jnp.float32)
  mask_vars = jax.jit(lambda k: model_lib.build(cfg).init(k, x0, jnp.zeros((1,), jnp.int32)))(jax.random.key(0))
  net_cls = _black_box(cfg)
  net_vars = init_variables(net_cls(), jax.random.key(1), x0)
  return MaskingParams(dict(mask_vars), cfg), net_cls, net_vars


def bench_inference(params, net_cls, net_vars, dtype: str, batch: int, size: int, repeats: int,
                    warmup: int = 1) -> None:
  """Masks/s beside the black box's forward on the same inputs (timed interleaved)."""
  cfg = params.config
  masking_fn = jax.jit(lambda p, x, c: explain(p, x, c, dtype=dtype))
  forward = jax.jit(net_cls(dtype=getattr(jnp, dtype)).apply)
  x = jax.random.uniform(jax.random.key(2), (batch, size, size, 3), jnp.float32)
  ids = jnp.arange(batch, dtype=jnp.int32) % cfg.num_classes
  r_flops = common.flops_of(forward, net_vars, x)
  m_flops = common.flops_of(masking_fn, params, x, ids)
  (r_compile, r_s), (m_compile, m_s) = common.measure_interleaved(
      [(forward, (net_vars, x)), (masking_fn, (params, x, ids))], repeats=repeats, warmup=warmup)
  common.emit({"bench": "saliency", "model": cfg.encoder, "dtype": dtype, "batch": batch,
               "height": size, "width": size, "items_per_s": batch / r_s, "compile_s": r_compile,
               "gflop": None if r_flops is None else round(r_flops / 1e9, 2),
               **common.peak_fields(r_flops, r_s, dtype)})
  common.emit({"bench": "saliency", "model": "masking", "dtype": dtype, "batch": batch,
               "upsampler_base": cfg.upsampler_base, "bottlenecks": cfg.bottlenecks_per_upsampler,
               "upsample_kernel": cfg.upsample_kernel, "shortcut": cfg.shortcut,
               "height": size, "width": size, "items_per_s": batch / m_s, "compile_s": m_compile,
               "gflop": None if m_flops is None else round(m_flops / 1e9, 2),
               "ratio_to_resnet50": round(m_s / r_s, 3),
               "flop_ratio_to_resnet50": None if not (r_flops and m_flops) else round(m_flops / r_flops, 3),
               **common.peak_fields(m_flops, m_s, dtype)})


def bench_training(params, net_cls, net_vars, dtype: str, batch: int, size: int, repeats: int) -> None:
  """One training step: masking model fwd/bwd (frozen encoder) + two black-box passes."""
  cfg = params.config
  tcfg = train_lib.TrainConfig(masking=cfg, objective=obj_lib.ObjectiveConfig(
      removal=obj_lib.EvidenceRemoval(value_range=(-124.0, 152.0))), image_size=(size, size),
      batch_size=batch, num_steps=10, dtype=dtype)
  mesh = jtrain.make_mesh()
  state = jtrain.replicate(train_lib.create_state(tcfg, net_vars, encoder_variables=net_vars), mesh)
  net = net_cls(dtype=getattr(jnp, dtype))
  step = jtrain.make_train_step(train_lib.make_loss_fn(tcfg, net.apply), mesh, donate=False)
  data = jtrain.shard_batch({
      "image": jax.device_get(jax.random.normal(jax.random.key(3), (batch, size, size, 3))) * 60.0,
      "label": jax.device_get(jnp.arange(batch, dtype=jnp.int32) % cfg.num_classes)}, mesh)
  t_compile, t_s = common.measure(step, state, data, jax.random.key(4), repeats=repeats)
  common.emit({"bench": "saliency", "model": "masking_train_step", "dtype": dtype,
               "batch": batch, "height": size, "width": size,
               "items_per_s": batch / t_s, "compile_s": t_compile})


def main() -> None:
  args = common.parse_args(__doc__.splitlines()[0], extra=[
      (("--no-train",), {"action": "store_true", "help": "skip the training-step measurement"}),
      (("--train-batch",), {"type": int, "default": 32, "help": "batch of the training-step measurement"}),
      (("--batches",), {"default": None, "help": "comma-separated batch sizes (default 1,32,256; quick 1,4)"}),
      (("--dtypes",), {"default": None, "help": "comma-separated dtypes (default float32,bfloat16; quick float32)"}),
      (("--upsampler-base",), {"type": int, "default": 768,
                               "help": "first upsampler's channels (paper 768; the authors' code 256)"}),
      (("--bottlenecks",), {"type": int, "default": 3,
                            "help": "bottleneck blocks per upsampler (paper 3; the authors' code 1)"}),
      (("--upsample-kernel",), {"type": int, "default": 2, "choices": (2, 3),
                                "help": "upsamplers' transposed conv kernel (MaskingConfig.imagenet: 2)"}),
      (("--shortcut",), {"default": "upsampled", "choices": ("upsampled", "projection"),
                         "help": "first bottleneck's shortcut after the concat (MaskingConfig.imagenet: upsampled)"})])
  size = 224
  batches = (1, 4) if args.quick else (1, 32, 256)
  dtypes = ("float32",) if args.quick else ("float32", "bfloat16")
  if args.batches:
    batches = tuple(int(b) for b in args.batches.split(","))
  if args.dtypes:
    dtypes = tuple(args.dtypes.split(","))
  repeats = args.repeats or (3 if args.quick else 5)
  cfg = masking_config(args.upsampler_base, args.bottlenecks, args.upsample_kernel, args.shortcut)
  params, net_cls, net_vars = init_models(cfg, size)
  for dtype in dtypes:
    for batch in batches:
      bench_inference(params, net_cls, net_vars, dtype, batch, size, repeats)
  if args.quick or args.no_train:
    return
  bench_training(params, net_cls, net_vars, "float32", args.train_batch, size, max(3, repeats // 2))


if __name__ == "__main__":
  main()
