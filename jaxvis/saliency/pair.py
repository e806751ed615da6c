"""A JAX classifier as Google PAIR's `saliency.core` expects it: a `call_model_function`.

PAIR's methods (GradientSaliency, IntegratedGradients, GradCam, XRAI, Blur IG, Guided IG, ...)
call `call_model_function(x_batch, call_model_args, expected_keys)` and read numpy arrays from
the returned dict. This builds that function from jaxvis's `images -> logits` classifier (and,
for Grad-CAM, its `features_fn` / `head_fn` split), with one jitted program per request kind
(compiled with the same `attribution.compiler_options()` as jaxvis's own methods), so PAIR's
methods run on any Flax model, and the parity tests and `benchmarks/saliency_methods.py` compare
both libraries on the same compiled model.

`call_model_args` must be `{"class_id": int}`. PAIR itself is NOT imported here (it is a test
dependency only); its dictionary keys are plain strings, spelled out below.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxvis.errors import InputError
from jaxvis.saliency import attribution

INPUT_OUTPUT_GRADIENTS = "INPUT_OUTPUT_GRADIENTS"
CONVOLUTION_LAYER_VALUES = "CONVOLUTION_LAYER_VALUES"
CONVOLUTION_OUTPUT_GRADIENTS = "CONVOLUTION_OUTPUT_GRADIENTS"
OUTPUT_LAYER_VALUES = "OUTPUT_LAYER_VALUES"


def call_model_function(classifier: Callable[[jax.Array], jax.Array],
                        features_fn: Callable[[jax.Array], jax.Array] | None = None,
                        head_fn: Callable[[jax.Array], jax.Array] | None = None) -> Callable:
  """Returns `call_model_function(x_batch, call_model_args=None, expected_keys=None) -> dict`."""

  def score(logits, class_id):
    return jnp.sum(logits.astype(jnp.float32)[:, class_id])

  input_grad = attribution.jit(jax.grad(lambda x, c: score(classifier(x), c)))
  logits_fn = attribution.jit(classifier)

  @attribution.jit
  def conv_values_and_grads(x, c):
    fmap = features_fn(x)
    return fmap, jax.grad(lambda a: score(head_fn(a), c))(fmap)

  def call(x_batch, call_model_args=None, expected_keys=None):
    if not call_model_args or "class_id" not in call_model_args:
      raise InputError("call_model_args", "expected {'class_id': int}")
    c = jnp.asarray(int(call_model_args["class_id"]), jnp.int32)
    x = jnp.asarray(np.asarray(x_batch), jnp.float32)
    keys = list(expected_keys or [INPUT_OUTPUT_GRADIENTS])
    out = {}
    if INPUT_OUTPUT_GRADIENTS in keys:
      out[INPUT_OUTPUT_GRADIENTS] = np.asarray(input_grad(x, c))
    if CONVOLUTION_LAYER_VALUES in keys or CONVOLUTION_OUTPUT_GRADIENTS in keys:
      if features_fn is None or head_fn is None:
        raise InputError("features_fn", "Grad-CAM-type methods need features_fn and head_fn")
      fmap, grads = conv_values_and_grads(x, c)
      out[CONVOLUTION_LAYER_VALUES], out[CONVOLUTION_OUTPUT_GRADIENTS] = np.asarray(fmap), np.asarray(grads)
    if OUTPUT_LAYER_VALUES in keys:
      out[OUTPUT_LAYER_VALUES] = np.asarray(logits_fn(x))[:, int(call_model_args["class_id"])]
    return out

  return call
