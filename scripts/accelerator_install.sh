#!/usr/bin/env bash
# On the accelerator host (no network): installs the prepared wheels in .whl/ that the
# host lacks (scripts/prepare_accelerator_wheels.sh made them), never replacing its own
# (CUDA) builds. accelerator_run.sh calls it; a one-off device command can too.
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
         "portpicker": "portpicker", "dm_tree": "tree",
         "facenet_pytorch": "facenet_pytorch"}
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
