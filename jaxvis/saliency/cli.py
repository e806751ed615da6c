"""`jaxvis saliency train | explain | evaluate`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os

import numpy as np

from jaxvis import cli_args as ca
from jaxvis.errors import InputError
from jaxvis.saliency import classnames


OBJECTIVES = ("default", "authors", "paper")


def register(parser: argparse.ArgumentParser) -> None:
  sub = parser.add_subparsers(dest="saliency_command", required=True)

  p = sub.add_parser("train", help="train a black-box CNN and a masking model (cluttered digits or CIFAR-10)")
  p.add_argument("--dataset", choices=("digits", "cifar10"), default="digits")
  p.add_argument("--data-dir", type=ca.existing_dir, default=None,
                 help="cifar-10-batches-py folder (for --dataset cifar10)")
  p.add_argument("--out", type=ca.output_dir, required=True,
                 help="output folder: the explainer + black box (+ checkpoints)")
  p.add_argument("--steps", type=ca.positive_int, default=None, help="masking-model steps")
  p.add_argument("--cnn-steps", type=ca.positive_int, default=None, help="black-box classifier steps")
  p.add_argument("--num-train", type=ca.positive_int, default=None, help="training images to use")
  p.add_argument("--objective", choices=OBJECTIVES, default="default",
                 help="default: the experiment's (authors' loss form, the shipped weights' settings); "
                      "authors: ObjectiveConfig.authors, the authors' ImageNet training script (smoothness "
                      "0.005, colour spread 0.33, noise on the preserved image); paper: eq. 4 with the "
                      "paper's weights. The dataset's blur sigma is kept in all three")
  p.add_argument("--tiny", action="store_true", help="a seconds-long run")
  p.set_defaults(func=run_train)

  p = sub.add_parser("explain", help="mask for one image: writes the Figure-1 overlay PNG")
  p.add_argument("image", type=ca.existing_file, help="an image file (any format PIL reads)")
  p.add_argument("--class", dest="class_id", required=True,
                 help="class to explain: an id, a class name / wnid (from --synsets or the checkpoint), "
                      "or 'predicted' (the black box's top class)")
  p.add_argument("--synsets", type=ca.existing_file, default=None,
                 help="class names: LOC_synset_mapping.txt ('n01440764 tench, ...') or one name per line")
  p.add_argument("--checkpoint", type=ca.existing_dir, required=True,
                 help="folder written by `jaxvis saliency train`")
  p.add_argument("--out", type=ca.output_file, required=True, help="overlay PNG path")
  p.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
  p.set_defaults(func=run_explain)

  p = sub.add_parser("evaluate", help="score all methods on held-out data; write a Figure-5 PNG grid")
  p.add_argument("--checkpoint", type=ca.existing_dir, required=True,
                 help="folder written by `jaxvis saliency train`")
  p.add_argument("--out", type=ca.output_file, required=True, help="grid PNG path")
  p.add_argument("--json", type=ca.output_file, default=None, help="also write the scores here")
  p.add_argument("--num", type=ca.positive_int, default=64, help="evaluation canvases (digits)")
  p.add_argument("--iterations", type=ca.positive_int, default=100, help="iterative-mask gradient steps")
  p.add_argument("--methods", default=None,
                 help="comma-separated methods to score (default: masking_model, gradient, smoothgrad, "
                      "integrated_gradients, grad_cam, iterative_mask; also blur_ig, occlusion, xrai)")
  p.set_defaults(func=run_evaluate)


def method_list(text: str | None) -> tuple[str, ...]:
  """`--methods a,b,c` -> names, each one of `experiment.ALL_METHODS` (None: the default set)."""
  from jaxvis.saliency import experiment as exp
  if text is None:
    return exp.METHOD_ORDER
  names = tuple(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))
  bad = [t for t in names if t not in exp.ALL_METHODS]
  if not names or bad:
    raise InputError("--methods", f"expected a comma-separated list of {', '.join(exp.ALL_METHODS)}; got {text!r}")
  return names


def _small_config(args, num_classes: int, in_channels: int = 3):
  from jaxvis.saliency import experiment as exp
  from jaxvis.saliency import model as model_lib
  if args.tiny:
    cfg = exp.SmallExperimentConfig(
        num_classes=num_classes, cnn_widths=(8, 16, 32), cnn_steps=20, cnn_batch=16, cnn_lr=1e-3,
        masking=model_lib.MaskingConfig.small(num_classes, small_widths=(8, 16, 16), convs_per_block=2,
                                              upsampler_base=16, in_channels=in_channels),
        mask_steps=10, mask_batch=8)
  else:  # the cluttered-digits experiment's configuration (encoder: the black box's frozen conv stages)
    cfg = exp.SmallExperimentConfig(num_classes=num_classes)
  if args.dataset == "cifar10":
    cfg = dataclasses.replace(cfg, cnn_stem_stride=1)  # 32x32 images: no strided stem
    if not args.tiny:  # the masking model trains from scratch (the paper's section 5.3)
      cfg = dataclasses.replace(cfg, masking=dataclasses.replace(exp.SCRATCH_MASKING, num_classes=num_classes,
                                                                 in_channels=in_channels))
  repl = {"objective": objective_for(args.objective, cfg.objective)}
  if args.steps is not None:
    repl["mask_steps"] = args.steps
  if args.cnn_steps is not None:
    repl["cnn_steps"] = args.cnn_steps
  return dataclasses.replace(cfg, **repl)


def objective_for(name: str, default):
  """The training objective `--objective name` selects, given the experiment's default one.

  "authors" is `ObjectiveConfig.authors` on [0, 1] images (the CLI's datasets) with the default's
  blur sigma (4 px for the cluttered digits: the paper's sigma leaves the digits readable)."""
  from jaxvis.saliency import objective as obj_lib
  if name == "default":
    return default
  if name == "paper":
    return obj_lib.ObjectiveConfig.paper(removal=default.removal)
  if name == "authors":
    authors = obj_lib.ObjectiveConfig.authors(value_range=(0.0, 1.0))
    return dataclasses.replace(authors, removal=dataclasses.replace(authors.removal,
                                                                     blur_sigma=default.removal.blur_sigma))
  raise InputError("--objective", f"expected one of {OBJECTIVES}, got {name!r}")


def run_train(args) -> int:
  from jaxvis.saliency import cifar10
  from jaxvis.saliency import experiment as exp
  from jaxvis.saliency import pretrained
  if args.dataset == "cifar10":
    if not args.data_dir:
      raise InputError("--data-dir", "the cifar-10-batches-py folder is required for --dataset cifar10")
    xtr, ytr = cifar10.load_split(args.data_dir, "train")
    xte, yte = cifar10.load_split(args.data_dir, "test")
  else:
    n = args.num_train if args.num_train is not None else (128 if args.tiny else 12000)
    (xtr, ytr, _), (xte, yte, _) = exp.cluttered_digits_data(n, 16 if args.tiny else 300)
  if args.num_train is not None:
    xtr, ytr = xtr[:args.num_train], ytr[:args.num_train]
  cfg = _small_config(args, 10)
  models = exp.train_models(cfg, xtr, ytr, xte, yte, workdir=os.path.join(args.out, "runs"))
  pretrained.save(args.out, models, {"classifier_test_accuracy": models.classifier_accuracy},
                  {"dataset": args.dataset, "image_size": list(xtr.shape[1:3])})
  print(f"saved to {args.out} (black-box test accuracy {models.classifier_accuracy:.1f}%)")
  return 0


def load_image(path: str, size, preprocess: str = "unit") -> np.ndarray:
  """An image file -> (1, H, W, 3) float32 as the checkpoint's black box expects."""
  from jaxvis.data.images import resized_rgb
  x = resized_rgb(path, (int(size[0]), int(size[1]))).astype(np.float32)[None] / 255.0
  if preprocess == "caffe":
    from jaxvis.nn import resnet
    return np.asarray(resnet.preprocess(x, "caffe"))
  return x


def run_explain(args) -> int:
  import jax.numpy as jnp
  from jaxvis.saliency import explainer as explain_lib
  from jaxvis.saliency import figures
  params, meta = explain_lib.load(args.checkpoint)
  size = meta.get("image_size", [224, 224])
  table = classnames.read_synset_file(args.synsets) if args.synsets else classnames.from_metadata(meta)
  class_id = classnames.resolve(args.class_id, params.config.num_classes, table)
  x = load_image(args.image, size, meta.get("preprocess", "unit"))
  note = ""
  if class_id is None:
    class_id, prob = _predicted_class(args.checkpoint, meta, x)
    note = f", predicted with p = {prob:.3f}"
  mask = np.asarray(explain_lib.explain(params, jnp.asarray(x), jnp.array([class_id]),
                                        dtype=args.dtype))[0]
  shown = load_image(args.image, size, "unit")[0]
  figures.save_overlay(args.out, shown, mask, scale=max(1, 256 // int(size[0])))
  name = f" ({classnames.short_name(table[1][class_id])})" if table and class_id < len(table[1]) else ""
  print(f"wrote {args.out} (class {class_id}{name}{note}; mask area {mask.mean():.3f})")
  return 0


def _predicted_class(checkpoint: str, meta: dict, x: np.ndarray) -> tuple[int, float]:
  """The top class of the black box stored with the checkpoint, and its softmax probability."""
  import jax
  from jaxvis.saliency import blackbox
  if not isinstance(meta.get("black_box"), dict):
    raise InputError("--class", f"'predicted' needs the black box saved with the checkpoint; "
                                f"{checkpoint} has none (give a class id or name)")
  module, variables = blackbox.load_black_box(checkpoint, meta["black_box"])
  probs = np.asarray(jax.nn.softmax(module.apply(variables, x)[0]))
  k = int(np.argmax(probs))
  return k, float(probs[k])


def run_evaluate(args) -> int:
  from jaxvis.saliency import blackbox
  from jaxvis.saliency import experiment as exp
  from jaxvis.saliency import explainer as explain_lib
  from jaxvis.saliency import figures
  include = method_list(args.methods)
  params, meta = explain_lib.load(args.checkpoint)
  if meta.get("dataset") not in ("digits", "cluttered_digits"):
    raise InputError("--checkpoint", "evaluate needs ground-truth boxes; only cluttered-digits "
                                     "checkpoints are supported here (use experiments/saliency_imagenet.py "
                                     "for ImageNet)")
  if not isinstance(meta.get("black_box"), dict):
    raise InputError("--checkpoint", f"{args.checkpoint}/masking_config.json has no 'black_box' entry "
                                     "(expected the output folder of `jaxvis saliency train`)")
  cnn, cnn_vars = blackbox.load_black_box(args.checkpoint, meta["black_box"])
  models = exp.TrainedModels(cnn, cnn_vars, params, float("nan"), {})
  cfg = exp.SmallExperimentConfig(iterative_iterations=args.iterations,
                                  eval_batch=min(args.num, 100))
  _, (xte, yte, bte) = exp.cluttered_digits_data(8, args.num, seed=123)
  results, maps = exp.evaluate_models(cfg, models, xte, yte, bte, keep_maps=8, include=include)
  figures.save_grid(args.out, xte[:8], {k: maps[k] for k in exp.GRID_METHODS if k in maps}, boxes=bte[:8])
  if args.json:
    with open(args.json, "w") as f:
      json.dump({"methods": results}, f, indent=1)
  print(exp.markdown_table(results))
  return 0
