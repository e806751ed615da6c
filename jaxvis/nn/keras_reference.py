"""Runs `keras.applications.ResNet50` (JAX backend) in a child process, for parity checks.

Keras fixes its backend once per process, and the `mtcnn` reference detector needs
Keras on TensorFlow; running the ResNet-50 reference in its own process keeps the
two apart. The child writes the Keras layer weights, its logits on the given images
and the logits of `jaxvis.nn.resnet` with those weights (imported by `from_keras`).

    python -m jaxvis.nn.keras_reference IMAGES.npy OUT.npz
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import numpy as np


def run(preprocessed: np.ndarray, timeout: float = 600) -> dict:
  """Returns {"keras_logits", "jaxvis_logits", "layers": {layer name: [weights]}} for (N,224,224,3)."""
  with tempfile.TemporaryDirectory() as tmp:
    images, out = os.path.join(tmp, "images.npy"), os.path.join(tmp, "out.npz")
    np.save(images, np.asarray(preprocessed, np.float32))
    env = dict(os.environ, KERAS_BACKEND="jax")
    proc = subprocess.run([sys.executable, "-m", "jaxvis.nn.keras_reference", images, out], env=env,
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
      raise RuntimeError(f"keras reference failed:\n{proc.stderr[-3000:]}")
    data = np.load(out)
    layers: dict[str, list[np.ndarray]] = {}
    for key in sorted(k for k in data.files if k.startswith("layer:")):
      _, name, index = key.split(":")
      layers.setdefault(name, []).append((int(index), data[key]))
    return {"keras_logits": data["keras_logits"], "jaxvis_logits": data["jaxvis_logits"],
            "layers": {n: [w for _, w in sorted(ws, key=lambda t: t[0])] for n, ws in layers.items()}}


def _child(images_path: str, out_path: str) -> None:
  import jax
  import keras

  from jaxvis.nn import resnet
  if keras.backend.backend() != "jax":
    raise SystemExit(f"KERAS_BACKEND must be jax, got {keras.backend.backend()}")
  keras.utils.set_random_seed(0)
  model = keras.applications.ResNet50(weights=None, classifier_activation=None)
  x = np.load(images_path)
  keras_logits = np.asarray(model(x, training=False))
  jaxvis_logits = np.asarray(jax.jit(resnet.ResNet50().apply)(resnet.from_keras(model), x))
  arrays = {f"layer:{layer.name}:{i}": np.asarray(w)
            for layer in model.layers for i, w in enumerate(layer.get_weights())}
  np.savez(out_path, keras_logits=keras_logits, jaxvis_logits=jaxvis_logits, **arrays)


if __name__ == "__main__":
  _child(sys.argv[1], sys.argv[2])
