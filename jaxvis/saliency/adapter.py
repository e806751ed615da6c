"""Any Flax classifier as the black box AND the frozen encoder of a masking model.

    clf = FlaxClassifier(model.apply, variables, taps=("stage2", "stage3"),
                         preprocess=lambda x: (x - 0.5) / 0.25)
    params = clf.train_masking_model(images, labels, num_steps=500)   # a MaskingParams
    masks = clf.explain(params, images, class_ids)                     # (N, H, W) in [0, 1]
    cams = clf.grad_cam(images, class_ids)                              # on the last tap

Fields:
  apply_fn: `(variables, x) -> logits`, normally a Linen module's `.apply` (layer-name taps need
    `capture_intermediates` and `flax.linen.intercept_methods`, which only Linen provides).
  variables: the trained classifier's variables (kept frozen).
  taps: the strided feature maps the masking model reads: a tuple of Linen submodule paths
    ("stage2" or "backbone/block3"; the output of that submodule's `__call__`) or a function
    `(variables, x) -> sequence of (N, h, w, K) maps`. Strides (H / h) must be distinct powers of
    two times each other; the coarsest feeds the class-selective feature filter, the others are
    skips, as ResNet-50's stride-4..32 maps are in the paper.
  preprocess: images as the user holds them -> what apply_fn expects (default: unchanged). The
    masking model, the evidence removal and every method see the user's images; only the
    classifier sees preprocessed ones.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxvis.errors import InputError
from jaxvis.saliency import explainer as explain_lib
from jaxvis.saliency import methods as methods_lib
from jaxvis.saliency import model as model_lib
from jaxvis.saliency import objective as obj_lib
from jaxvis.saliency import train as train_lib


def _path(module: nn.Module) -> str:
  return "/".join(str(p) for p in module.path)


@dataclasses.dataclass(frozen=True, eq=False)
class FlaxClassifier:
  apply_fn: Callable
  variables: Any
  taps: Sequence[str] | Callable
  preprocess: Callable[[jax.Array], jax.Array] | None = None

  def _prep(self, images):
    return images if self.preprocess is None else self.preprocess(images)

  def logits(self, images: jax.Array) -> jax.Array:
    return self.apply_fn(self.variables, self._prep(images))

  def tap_maps(self, images: jax.Array) -> list[jax.Array]:
    """The tapped maps, in the order of `taps`."""
    x = self._prep(images)
    if callable(self.taps):
      maps = list(self.taps(self.variables, x))
    else:
      names = tuple(self.taps)
      _, state = self.apply_fn(self.variables, x, mutable=["intermediates"],
                               capture_intermediates=lambda m, method: method == "__call__" and _path(m) in names)
      found = {}
      for keys, value in jax.tree_util.tree_flatten_with_path(dict(state).get("intermediates", {}),
                                                               is_leaf=lambda v: isinstance(v, tuple))[0]:
        path = "/".join(k.key for k in keys if isinstance(k, jax.tree_util.DictKey) and k.key != "__call__")
        found[path] = value[0] if isinstance(value, tuple) else value
      missing = [n for n in names if n not in found]
      if missing:
        raise InputError("taps", f"no submodule output at {missing}; captured: {sorted(found) or 'nothing'}")
      maps = [found[n] for n in names]
    for k, m in enumerate(maps):
      if m.ndim != 4 or m.shape[0] != images.shape[0]:
        raise InputError("taps", f"tap {k} must be an (N, h, w, K) map, got shape {tuple(m.shape)}")
    return maps

  def strides(self, image_size: Sequence[int]) -> tuple[int, ...]:
    """Each tap's stride at `image_size` = (H, W), in the order of `taps`."""
    x = jax.ShapeDtypeStruct((1, int(image_size[0]), int(image_size[1]), 3), jnp.float32)
    shapes = jax.eval_shape(self.tap_maps, x)
    out = []
    for k, s in enumerate(shapes):
      h, w = s.shape[1:3]
      if image_size[0] % h or image_size[1] % w or image_size[0] // h != image_size[1] // w:
        raise InputError("taps", f"tap {k}: a {h}x{w} map is not an integer stride of {tuple(image_size)}")
      out.append(int(image_size[0]) // h)
    return tuple(out)

  def features(self, images: jax.Array) -> dict[str, jax.Array]:
    """{"stride<s>": map}, as the "external" masking-model encoder reads them."""
    maps = self.tap_maps(images)
    return {f"stride{images.shape[1] // m.shape[1]}": m for m in maps}

  def masking_config(self, num_classes: int, image_size: Sequence[int], **kw) -> model_lib.MaskingConfig:
    """An "external"-encoder masking model over these taps (upsamplers down to the finest tap)."""
    strides = self.strides(image_size)
    if len(set(strides)) != len(strides):
      raise InputError("taps", f"two taps share a stride: {strides}")
    bottom = max(strides)
    widths = jax.eval_shape(self.tap_maps, jax.ShapeDtypeStruct((1, *image_size, 3), jnp.float32))
    deepest = widths[strides.index(bottom)].shape[-1]
    kw = {"upsampler_base": max(8, min(int(deepest), 256)), "bottlenecks_per_upsampler": 1,
          "num_upsamplers": len(strides) - 1, "upsample_kernel": 2, "shortcut": "upsampled", **kw}
    if kw["num_upsamplers"] < 1:
      raise InputError("taps", "need at least two taps (one map for the feature filter, one skip)")
    return model_lib.MaskingConfig(num_classes=num_classes, encoder="external", external_strides=strides, **kw)

  def train_masking_model(self, images, labels, *, num_classes: int | None = None, num_steps: int = 500,
                          batch_size: int = 32, learning_rate: float = 1e-3,
                          objective: obj_lib.ObjectiveConfig | None = None,
                          masking: model_lib.MaskingConfig | None = None, seed: int = 0,
                          workdir: str | None = None, progress: bool = False) -> explain_lib.MaskingParams:
    """Trains a masking model for this classifier (through `jaxvis.train.fit`: checkpoints in
    `workdir`, exact resume). `images` as the user holds them; `labels` (N,) int."""
    images = np.asarray(images, np.float32)
    labels = np.asarray(labels)
    if num_classes is None:
      num_classes = int(jax.eval_shape(self.logits, jax.ShapeDtypeStruct((1, *images.shape[1:]), jnp.float32)).shape[-1])
    size = tuple(int(s) for s in images.shape[1:3])
    masking = masking or self.masking_config(num_classes, size, in_channels=images.shape[-1])
    lo, hi = float(images.min()), float(images.max())
    objective = objective or obj_lib.ObjectiveConfig(removal=obj_lib.EvidenceRemoval(value_range=(lo, hi)))
    cfg = train_lib.TrainConfig(masking=masking, objective=objective, image_size=size, batch_size=batch_size,
                                num_steps=num_steps, learning_rate=learning_rate, seed=seed)
    prep = self._prep
    return train_lib.train_masking_model(
        cfg, images, labels, lambda v, x: self.apply_fn(v, prep(x)), self.variables,
        workdir=workdir, progress=progress, features_fn=self.features)

  def explain(self, params: explain_lib.MaskingParams, images: jax.Array, class_ids: jax.Array,
              dtype: Any = None) -> jax.Array:
    """Masks (N, H, W) from one pass of this classifier's taps + the masking model."""
    images = jnp.asarray(images)
    return explain_lib.explain(params, images, class_ids, dtype, features=self.features(images))

  def grad_cam(self, images: jax.Array, class_ids: jax.Array, tap: str | None = None, **kw) -> jax.Array:
    """Grad-CAM on a named tap (default: the last) without splitting the model by hand: the tap's
    output gets a zero perturbation whose gradient is d logit_c / d map. `kw`: `methods.grad_cam_from`."""
    if callable(self.taps):
      raise InputError("taps", "grad_cam needs taps given as submodule names")
    name = tap or tuple(self.taps)[-1]
    images = jnp.asarray(images)
    class_ids = jnp.asarray(class_ids)
    fmap = self.tap_maps(images)[list(self.taps).index(name)] if name in self.taps else None
    if fmap is None:
      raise InputError("tap", f"expected one of {list(self.taps)}, got {name!r}")

    def score(delta):
      def add_delta(next_fun, args, kwargs, context):
        out = next_fun(*args, **kwargs)
        hit = context.method_name == "__call__" and _path(context.module) == name
        return out + delta if hit else out
      with nn.intercept_methods(add_delta):
        logits = self.apply_fn(self.variables, self._prep(images)).astype(jnp.float32)
      return jnp.sum(jnp.take_along_axis(logits, class_ids[:, None], axis=1))

    grads = jax.grad(score)(jnp.zeros_like(fmap))
    return methods_lib.grad_cam_from(fmap, grads, images.shape[1:3], **kw)
