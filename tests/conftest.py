"""Suite-wide settings, applied before any test imports JAX.

* CPU only, so the suite behaves the same on every machine.
* `jax_threefry_partitionable=False`: with JAX 0.10's default (True) XLA:CPU takes
  ~10 s to compile even a single `jax.random.normal`; False compiles in ~1 s and
  draws equally valid (if different) random streams. Set through the environment so
  the subprocesses that tests start (multi-device, multi-process, kill/resume) agree.
* A persistent XLA compilation cache (per user, outside the repo): a cold run is
  correct and just slower; repeated runs on one machine reuse compiled programs.
"""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("JAX_THREEFRY_PARTITIONABLE", "0")
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR",
                      os.path.join(os.path.expanduser("~"), ".cache", "jaxvis", "xla-test-cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "1")
# Keras picks its backend once per process: the mtcnn reference detector needs TensorFlow.
# (The ResNet-50 parity check runs Keras on JAX in a child process: jaxvis.nn.keras_reference.)
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
