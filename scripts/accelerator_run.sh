#!/usr/bin/env bash
# On the accelerator host (no network): installs the prepared wheels it lacks,
# then runs the whole accelerator suite (~8 min) and leaves the results in
# benchmarks/results/<device>.jsonl and .md (under $OUT too, when set, so the
# device tool brings them back).
#
#   scripts/accelerator_run.sh [--only saliency,faces ...]
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ -d .whl ]; then
  # Install only what is missing: never replace the host's own (CUDA) builds.
  missing=$("$PYTHON" - <<'PY'
import glob, importlib.util, os, re
names = {"grain": "grain", "array_record": "array_record", "mtcnn": "mtcnn", "joblib": "joblib",
         "lz4": "lz4", "segno": "segno", "zxing_cpp": "zxingcpp", "safetensors": "safetensors",
         "h5py": "h5py", "scikit_learn": "sklearn", "threadpoolctl": "threadpoolctl", "tqdm": "tqdm",
         "importlib_resources": "importlib_resources", "cloudpickle": "cloudpickle",
         "portpicker": "portpicker", "dm_tree": "tree"}
for wheel in sorted(glob.glob(".whl/*.whl")):
  dist = re.split(r"-\d", os.path.basename(wheel), 1)[0].lower().replace("-", "_")
  module = names.get(dist, dist)
  if importlib.util.find_spec(module) is None:
    print(wheel)
PY
)
  if [ -n "$missing" ]; then
    "$PYTHON" -m pip install -q --no-index --no-deps $missing || echo "warning: some wheels did not install"
  fi
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
"$PYTHON" -c "import jax; print('devices:', jax.devices())"
"$PYTHON" benchmarks/accelerator.py "$@"
status=$?
if [ -n "${OUT:-}" ]; then
  cp benchmarks/results/* "$OUT"/ 2>/dev/null || true
fi
exit $status
