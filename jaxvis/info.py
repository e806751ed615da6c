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
  }
