"""Runtime paths must not need the dev extras (TensorFlow, torch, keras, the peer libraries).

`pip install jaxvis` installs the runtime dependencies only. This imports every
jaxvis module and loads every shipped or packaged weight in a child process
where importing a test-only package fails, as it would there. The CI step
`scripts/check_runtime_install.sh` goes further: it builds the wheel, installs
it into a fresh virtualenv without the extras and runs `jaxvis demo --quick`.
"""

from __future__ import annotations

import os
import subprocess
import sys

TEST_ONLY = ("tensorflow", "torch", "keras", "tf_keras", "facenet_pytorch", "fer",
             "captum", "saliency", "gensim", "mtcnn.mtcnn")

CHILD = r"""
import importlib, importlib.abc, pkgutil, sys
BLOCKED = set(sys.argv[1].split(","))

class Block(importlib.abc.MetaPathFinder):
  def find_spec(self, name, path=None, target=None):
    if name in BLOCKED or name.split(".")[0] in BLOCKED:
      raise ModuleNotFoundError(f"test-only package {name!r} imported on a runtime path")
    return None

sys.meta_path.insert(0, Block())
import jaxvis
failed = []
for mod in pkgutil.walk_packages(jaxvis.__path__, "jaxvis."):
  try:
    importlib.import_module(mod.name)
  except ModuleNotFoundError as e:
    if "test-only" in str(e):
      failed.append(f"{mod.name}: {e}")
from jaxvis.faces import weights
weights.load_pretrained()
print("FAILED" if failed else "OK", *failed, sep="\n")
"""


def test_no_runtime_module_imports_a_test_only_package():
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  proc = subprocess.run([sys.executable, "-c", CHILD, ",".join(TEST_ONLY)], capture_output=True,
                        text=True, timeout=600, env=env)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert proc.stdout.strip().splitlines()[0] == "OK", proc.stdout
