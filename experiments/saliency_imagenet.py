"""ImageNet (paper sections 5, 5.1, 5.2): masking model on a frozen, pretrained ResNet-50 against a
ResNet-50 black box; Table 1-3's measures (localisation error, saliency metric) for the masking
model, gradient, Grad-CAM, the iterative mask and the center / max / ground-truth boxes.

Reads the ILSVRC CLS-LOC folder layout (see jaxvis/saliency/imagenet.py) and imports pretrained
weights: the Keras HDF5 file (`resnet50_weights_tf_dim_ordering_tf_kernels.h5`, caffe
preprocessing) or a torchvision/timm `.safetensors` state dict (ResNet v1.5, torch preprocessing);
the same weights serve as the black box and as the masking model's frozen encoder.

Training images stream: a grain pipeline over the JPEG file list decodes and preprocesses each
batch as it is needed (`imagenet.TrainSource`, numpy only), so memory does not grow with the number
of training images; only the `--val-images` validation images are held for evaluation.
`--workers N` decodes in N grain worker processes (default 0: in the training process).

    python experiments/saliency_imagenet.py --root /data/ILSVRC --weights resnet50.h5 --json imagenet.json
    python experiments/saliency_imagenet.py --root /data/ILSVRC --weights resnet50.safetensors --steps 20000 \
        --batch-size 64 --val-images 5000 --json imagenet.json
    python experiments/saliency_imagenet.py --root FIXTURE --tiny --json /tmp/imagenet.json
      (--tiny: only the model is small — a ResNetTiny at 64x64 trained here as the black box —;
       the loader still streams every training image)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxvis import cli_args as ca
from jaxvis import data as data_lib
from jaxvis.errors import InputError
from jaxvis.nn import resnet
from jaxvis.nn.variables import init_variables
from jaxvis.saliency import evaluate as eval_lib
from jaxvis.saliency import explainer as explain_lib
from jaxvis.saliency import imagenet
from jaxvis.saliency import methods as methods_lib
from jaxvis.saliency import model as model_lib
from jaxvis.saliency import objective as obj_lib
from jaxvis.saliency import train as train_lib


@dataclasses.dataclass(frozen=True)
class Config:
  """Attributes:
    image_size: input side (paper: 224).
    arch: "resnet50" (pretrained weights required) or "resnet_tiny" (tests; trained here).
    train_per_class, num_val: how much of the dataset to read (None = all).
    mask_steps, mask_batch: masking-model training (paper: 250,000 images).
    black_box_steps: only for resnet_tiny: steps to train the black box on the training images.
    iterative_iterations: iterative-mask baseline steps.
  """
  image_size: int = 224
  arch: str = "resnet50"
  train_per_class: int | None = None
  num_val: int | None = None
  mask_steps: int = 8000
  mask_batch: int = 32
  black_box_steps: int = 0
  iterative_iterations: int = 300
  eval_batch: int = 32

  @classmethod
  def tiny(cls) -> "Config":
    return cls(image_size=64, arch="resnet_tiny", mask_steps=4, mask_batch=4, black_box_steps=4,
               iterative_iterations=4, eval_batch=8)


def resnet_parts(net, variables):
  """(classifier, features_fn, head_fn) of a ResNet black box (Grad-CAM on the stride-32 map)."""
  clf = lambda x: net.apply(variables, x)
  feats = lambda x: net.apply(variables, x, return_features=True)[1]["stride32"]
  head_params = variables["params"]["head"]
  head = lambda f: (jnp.mean(f.astype(jnp.float32), axis=(1, 2)) @ head_params["kernel"] + head_params["bias"])
  return clf, feats, head


def train_tiny_black_box(net, variables, batches, steps: int):
  """A few Adam steps of the ResNetTiny classifier (BN in training mode) on streamed batches, for
  the offline test run."""
  import optax
  tx = optax.adam(1e-3)
  params, stats = variables["params"], variables["batch_stats"]
  opt = tx.init(params)

  @jax.jit
  def step(params, stats, opt, x, y):
    def loss(p):
      logits, new = net.apply({"params": p, "batch_stats": stats}, x, train=True, mutable=["batch_stats"])
      return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), new["batch_stats"]
    (l, stats), g = jax.value_and_grad(loss, has_aux=True)(params)
    upd, opt = tx.update(g, opt, params)
    return optax.apply_updates(params, upd), stats, opt

  for _ in range(steps):
    batch = next(batches)
    params, stats, opt = step(params, stats, opt, jnp.asarray(batch["image"]), jnp.asarray(batch["label"]))
  return {"params": params, "batch_stats": stats}


def main(argv=None) -> int:
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--root", required=True, help="ILSVRC folder (Data/CLS-LOC, Annotations/CLS-LOC)")
  ap.add_argument("--weights", type=ca.existing_file, default=None,
                  help="ResNet-50 weights: Keras .h5 (caffe preprocessing) or torchvision/timm .safetensors "
                       "(v1.5, torch preprocessing); required unless --tiny")
  ap.add_argument("--steps", type=ca.positive_int, default=None, help="masking-model training steps")
  ap.add_argument("--batch-size", type=ca.positive_int, default=None, help="masking-model batch size")
  ap.add_argument("--image-size", type=ca.positive_int, default=None, help="square input side (multiple of 32)")
  ap.add_argument("--train-per-class", type=ca.positive_int, default=None, help="training images per class (all)")
  ap.add_argument("--val-images", type=ca.positive_int, default=None, help="validation images to evaluate (all)")
  ap.add_argument("--workers", type=ca.nonnegative_int, default=0,
                  help="grain worker processes that decode + preprocess training JPEGs (0: in this process)")
  ap.add_argument("--tiny", action="store_true")
  ap.add_argument("--json", required=True)
  ap.add_argument("--workdir", default=None)
  ap.add_argument("--save-model", default=None)
  args = ap.parse_args(argv)
  cfg = Config.tiny() if args.tiny else Config()
  flags = {"mask_steps": args.steps, "mask_batch": args.batch_size, "image_size": args.image_size,
           "train_per_class": args.train_per_class, "num_val": args.val_images}
  cfg = dataclasses.replace(cfg, **{k: v for k, v in flags.items() if v is not None})
  if cfg.image_size % 32:
    raise InputError("--image-size", f"expected a multiple of 32 (the ResNet's stride), got {cfg.image_size}")
  if cfg.arch == "resnet50" and not args.weights:
    raise InputError("--weights", "pretrained ResNet-50 weights (.h5 or .safetensors) are required for the full run")
  start = time.perf_counter()
  synsets = imagenet.read_synsets(args.root)
  mode = "torch" if args.weights and args.weights.endswith(".safetensors") else "caffe"
  # decoded and preprocessed per record, in numpy: the same in a grain worker process
  source = imagenet.TrainSource(args.root, cfg.image_size, cfg.train_per_class, synsets, preprocess=mode)
  prep = jax.jit(lambda im: resnet.preprocess(im, mode))
  xva_u8, yva, bva, vva = imagenet.load_val(args.root, cfg.image_size, cfg.num_val, synsets)
  xva = np.asarray(prep(xva_u8))
  n_cls = len(synsets)

  if cfg.arch == "resnet50":
    variant = "v1.5" if mode == "torch" else "v1"
    net = resnet.ResNet50(num_classes=n_cls, variant=variant)
    variables = (resnet.load_safetensors(args.weights) if mode == "torch" else resnet.load_keras_h5(args.weights))
    masking = model_lib.MaskingConfig.imagenet(n_cls, resnet_variant=variant)
  else:
    net = resnet.ResNetTiny(num_classes=n_cls)
    variables = init_variables(net, jax.random.key(0), jnp.zeros((1, cfg.image_size, cfg.image_size, 3)))
    batches = data_lib.loader(source, batch_size=min(cfg.mask_batch, len(source)), seed=7,
                              worker_count=args.workers)
    variables = train_tiny_black_box(net, variables, batches, cfg.black_box_steps)
    batches.close()
    masking = model_lib.MaskingConfig(num_classes=n_cls, encoder="resnet_tiny", upsampler_base=32,
                                      bottlenecks_per_upsampler=1)
  clf, feats, head = resnet_parts(net, variables)
  # caffe-preprocessed pixels span about [-124, 152]: random colours and noise live on that scale;
  # the weights are the authors' ImageNet training script's (smoothness 0.005, their colour spread).
  objective = obj_lib.ObjectiveConfig.authors(value_range=(-124.0, 152.0))  # their ImageNet script
  tcfg = train_lib.TrainConfig(masking=masking, objective=objective, image_size=(cfg.image_size,) * 2,
                               batch_size=cfg.mask_batch, num_steps=cfg.mask_steps)
  params = train_lib.train_masking_model(tcfg, None, None, net.apply, variables, workdir=args.workdir,
                                         encoder_variables=variables, progress=sys.stderr.isatty(),
                                         source=source, worker_count=args.workers)
  key = jax.random.key(1)
  it_cfg = methods_lib.IterativeMaskConfig(num_iterations=cfg.iterative_iterations, objective=objective)
  b = cfg.eval_batch
  fns = {
      "masking_model": (lambda x, c: explain_lib.explain(params, x, c), b),
      "gradient": (lambda x, c: methods_lib.gradient(clf, x, c), b),
      "grad_cam": (lambda x, c: methods_lib.grad_cam(feats, head, x, c), b),
      "iterative_mask": (lambda x, c: methods_lib.iterative_mask(clf, x, c, key, it_cfg), b),
  }
  results, _ = eval_lib.evaluate_methods(clf, fns, xva, yva, bva, vva)
  out = {"methods": results, "num_classes": n_cls, "num_train": len(source), "num_val": int(len(xva)),
         "arch": cfg.arch, "workers": args.workers, "timings_s": {"total": time.perf_counter() - start}}
  os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
  with open(args.json, "w") as f:
    json.dump(out, f, indent=1)
  if args.save_model:
    explain_lib.save(args.save_model, params, {"dataset": "imagenet", "image_size": [cfg.image_size] * 2,
                                               "preprocess": mode, "synsets": synsets})
  print(json.dumps(results, indent=1))
  return 0


if __name__ == "__main__":
  try:
    sys.exit(main())
  except InputError as e:  # bad input: one line naming it, exit 2 (as the jaxvis CLI does)
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
