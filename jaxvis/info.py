"""`jaxvis info`: devices, backend and library versions."""

from __future__ import annotations

import importlib.metadata as md
import platform

_LIBRARIES = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "grain",
              "tensorflow-datasets", "numpy", "jaxvis")


def _version(name: str) -> str | None:
  try:
    return md.version(name)
  except md.PackageNotFoundError:
    return None


def collect() -> dict:
  """Returns backend, devices and versions as a JSON-serialisable dict."""
  import jax
  devices = jax.devices()
  return {
      "backend": jax.default_backend(),
      "process_index": jax.process_index(),
      "process_count": jax.process_count(),
      "device_count": jax.device_count(),
      "local_device_count": jax.local_device_count(),
      "devices": [{"id": d.id, "platform": d.platform, "kind": d.device_kind} for d in devices],
      "python": platform.python_version(),
      "versions": {name: _version(name) for name in _LIBRARIES},
      "native_kernels": _native_kernels(),
  }


def _native_kernels() -> dict:
  """Whether the face cascade's native CPU kernels run here (built on first use), and why not."""
  from jaxvis import native
  from jaxvis.faces import native_nets
  ok, why = native_nets.available()
  return {"available": ok, "why": why, "threads": native.threads(), "cache": native.cache_dir()}
