"""Suite-wide settings, applied before any test imports JAX.

* CPU only, so the suite behaves the same on every machine.
* `jax_threefry_partitionable=False`: with JAX 0.10's default (True) XLA:CPU takes
  ~10 s to compile even a single `jax.random.normal`; False compiles in ~1 s and
  draws equally valid (if different) random streams. Set through the environment so
  the subprocesses that tests start (multi-device, multi-process, kill/resume) agree.
* A persistent XLA compilation cache (per user, outside the repo): a cold run is
  correct and just slower; repeated runs on one machine reuse compiled programs, the
  small ones too (minimum compile time 0): a cold run compiled ~8,400 programs of under
  a second each, ~500 s of the workers' time, which jax's default 1 s threshold would
  compile again on every run.
* After each test module, jax's compiled programs are dropped if the worker holds more
  than half of Linux's 65,530 memory mappings per process (`compiled_programs`): every
  XLA:CPU program maps each kernel separately (~2,000 mappings per face cascade), and a
  worker that kept every program of its share of the suite ran out and crashed in XLA.
"""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("JAX_THREEFRY_PARTITIONABLE", "0")
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR",
                      os.path.join(os.path.expanduser("~"), ".cache", "jaxvis", "xla-test-cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
# Keras picks its backend once per process: the mtcnn reference detector needs TensorFlow.
# (The ResNet-50 parity check runs Keras on JAX in a child process: jaxvis.nn.keras_reference.)
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


import importlib.util  # noqa: E402
import sys  # noqa: E402

import pytest  # noqa: E402

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module", autouse=True)
def _release_compiled_programs():
  yield
  from jaxvis import compiled_programs
  compiled_programs.release_if_crowded()


@pytest.fixture(scope="session")
def load_script():
  """`load_script("faces_wider")` imports `experiments/faces_wider.py` as a module.

  The module is registered in `sys.modules` first: dataclasses look their module up there.
  """
  def load(name: str, folder: str = "experiments"):
    spec = importlib.util.spec_from_file_location(name, os.path.join(_ROOT, folder, f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod
  return load
