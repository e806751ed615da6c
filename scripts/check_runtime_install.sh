#!/usr/bin/env bash
# Builds the jaxvis wheel, installs it into a fresh virtualenv with its runtime
# dependencies only (no dev extras: no TensorFlow, torch or peer libraries) and
# runs `jaxvis demo --quick`, which exits non-zero if any family's section fails.
# This is what `pip install jaxvis` gives a user; `make test` installs `.[dev]`,
# which would hide a runtime path that needs a test-only package.
#
#   scripts/check_runtime_install.sh [WORK_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
work=${1:-$(mktemp -d)}
mkdir -p "$work"
rm -rf "$work/venv" "$work/dist" "$work/demo"
"$PYTHON" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --upgrade pip build
"$work/venv/bin/python" -m build -q --wheel --outdir "$work/dist" . >/dev/null
"$work/venv/bin/python" -m pip install -q -c constraints.txt "$work"/dist/jaxvis-*.whl
"$work/venv/bin/python" - <<'PY'
import importlib.util, sys
present = [m for m in ("tensorflow", "torch", "keras", "facenet_pytorch", "fer")
           if importlib.util.find_spec(m) is not None]
if present:
  sys.exit(f"runtime install pulled in test-only packages: {present}")
PY
cd "$work"  # away from the source tree, so the installed wheel is what runs
# The face cascade's native CPU kernels build from the .cc files the wheel must carry
# (into a fresh cache, so a library built from the source tree cannot stand in).
JAX_PLATFORMS=cpu JAXVIS_NATIVE_CACHE="$work/native-cache" "$work/venv/bin/python" - <<'PY'
from jaxvis.faces import native_nets
ok, why = native_nets.available()
assert ok, f"native kernels unavailable from the wheel: {why}"
PY
JAX_PLATFORMS=cpu "$work/venv/bin/jaxvis" demo --quick --out "$work/demo"
echo "runtime install: jaxvis demo --quick passed with runtime dependencies only"
