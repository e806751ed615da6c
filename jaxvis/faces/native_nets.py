"""MTCNN's networks as fused native CPU kernels (`jaxvis/native/pnet.cc`, `mtcnn_crops.cc`).

Same outputs as `nets.PNet` (with a `conv1_mask`), `nets.RNet` and `nets.ONet` in float32,
up to summation order (~1e-6). XLA:CPU runs these layers one pass each, its convolutions
on one thread at ~40 GFLOP/s (docs/faces.md); the kernels keep activations in cache (P-Net
streams bands of output rows through a few cached rows of its pooled and conv2 maps; R-Net
and O-Net run a crop at a time), keep several output pixels' channels in vector registers,
and share the work among `jaxvis.native.threads()` workers. Inference only: no gradients
(training uses `nets`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxvis import native

IMPLS = native.IMPLS
_LIBRARIES = {"pnet": ("PNet",), "mtcnn_crops": ("RNet", "ONet")}
_LANES = 16


def available() -> tuple[bool, str]:
  """(True, "") when the kernels are built and registered here, else (False, why)."""
  return native.available_on_cpu(_LIBRARIES)


def use_native(impl: str) -> bool:
  """Whether the networks run natively for `impl` ("auto": on a CPU backend when the
  kernels are available, warning once when they are not; "native": required; "xla": never)."""
  if impl not in IMPLS:
    raise ValueError(f"kernels: expected one of {IMPLS}, got {impl!r}")
  return native.use(impl, "MTCNN networks", available, lambda why: RuntimeError(f"kernels='native': {why}"))


def _register():
  for name, targets in _LIBRARIES.items():
    native.register(name, targets)        # raises NativeUnavailable (with why) if it cannot be built


def _f32(a):
  return jnp.asarray(a, jnp.float32)


def _pad_last(a, n: int):
  return jnp.pad(_f32(a), [(0, 0)] * (a.ndim - 1) + [(0, n - a.shape[-1])])


def _round_up(n: int) -> int:
  return -(-n // _LANES) * _LANES


def _conv(p, layer: str, prelu: str):
  """(k * k * cin, cout_pad) kernel, padded bias and slopes."""
  k = _f32(p[layer]["kernel"])
  cout = _round_up(k.shape[-1])
  return [_pad_last(k, cout).reshape(-1, cout), _pad_last(p[layer]["bias"], cout),
          _pad_last(p[prelu]["alpha"], cout)]


def _dense_after(kernel, h: int, w: int, c: int):
  """A dense kernel over a (h, w, c) map flattened in (W, H, C) order (as `nets._flatten_wh`)
  -> rows in the kernel's HWC order with channels padded to 16 lanes, columns padded."""
  k = _f32(kernel).reshape(w, h, c, -1).transpose(1, 0, 2, 3)
  k = jnp.pad(k, [(0, 0), (0, 0), (0, _round_up(c) - c), (0, 0)]).reshape(h * w * _round_up(c), -1)
  return _pad_last(k, _round_up(k.shape[-1]))


def _heads(p, names):
  """Dense heads side by side in one (in, out_pad) kernel and bias."""
  k = jnp.concatenate([_f32(p[n]["kernel"]) for n in names], axis=1)
  b = jnp.concatenate([_f32(p[n]["bias"]) for n in names])
  return [_pad_last(k, _round_up(k.shape[1])), _pad_last(b, _round_up(k.shape[1]))]


def pnet(pnet_params, mosaic: jax.Array, conv1_mask: jax.Array):
  """(B, H, W, 3) normalised mosaic, (B, H - 2, W - 2) bool mask -> (deltas (B, h, w, 4),
  logits (B, h, w, 2)), h = ceil((H - 2) / 2) - 4, as `nets.PNet`."""
  _register()
  b, h, w, _ = mosaic.shape
  gh, gw = (h - 1) // 2 - 4, (w - 1) // 2 - 4
  p = pnet_params
  args = [mosaic.astype(jnp.float32), conv1_mask.astype(bool)]
  for layer in ("conv1", "conv2", "conv3"):
    args += [_f32(p[layer]["kernel"]), _f32(p[layer]["bias"]), _f32(p["prelu" + layer[-1]]["alpha"])]
  args += [_f32(p["conv4_1"]["kernel"]), _f32(p["conv4_1"]["bias"]),
           _f32(p["conv4_2"]["kernel"]), _f32(p["conv4_2"]["bias"])]
  out = (jax.ShapeDtypeStruct((b, gh, gw, 4), jnp.float32), jax.ShapeDtypeStruct((b, gh, gw, 2), jnp.float32))
  return jax.ffi.ffi_call("jaxvis_PNet", out, vmap_method="sequential")(
      *args, threads=np.int64(native.threads()))


def rnet(rnet_params, crops: jax.Array):
  """(N, 24, 24, 3) -> (deltas (N, 4), logits (N, 2)), as `nets.RNet`."""
  _register()
  p = rnet_params
  n = crops.shape[0]
  args = [crops.astype(jnp.float32), *_conv(p, "conv1", "prelu1"), *_conv(p, "conv2", "prelu2"),
          *_conv(p, "conv3", "prelu3"), _dense_after(p["fc4"]["kernel"], 3, 3, 64),
          _f32(p["fc4"]["bias"]), _f32(p["prelu4"]["alpha"]), *_heads(p, ("fc5_1", "fc5_2"))]
  out = (jax.ShapeDtypeStruct((n, 4), jnp.float32), jax.ShapeDtypeStruct((n, 2), jnp.float32))
  return jax.ffi.ffi_call("jaxvis_RNet", out, vmap_method="sequential")(
      *args, threads=np.int64(native.threads()))


def onet(onet_params, crops: jax.Array):
  """(N, 48, 48, 3) -> (deltas (N, 4), landmarks (N, 2L), logits (N, 2)), as `nets.ONet`."""
  _register()
  p = onet_params
  n = crops.shape[0]
  points = p["fc6_2"]["kernel"].shape[1]
  args = [crops.astype(jnp.float32), *_conv(p, "conv1", "prelu1"), *_conv(p, "conv2", "prelu2"),
          *_conv(p, "conv3", "prelu3"), *_conv(p, "conv4", "prelu4"),
          _dense_after(p["fc5"]["kernel"], 3, 3, 128), _f32(p["fc5"]["bias"]), _f32(p["prelu5"]["alpha"]),
          *_heads(p, ("fc6_1", "fc6_3", "fc6_2"))]
  out = (jax.ShapeDtypeStruct((n, 4), jnp.float32), jax.ShapeDtypeStruct((n, points), jnp.float32),
         jax.ShapeDtypeStruct((n, 2), jnp.float32))
  return jax.ffi.ffi_call("jaxvis_ONet", out, vmap_method="sequential")(
      *args, threads=np.int64(native.threads()))
