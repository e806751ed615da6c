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
bash scripts/accelerator_install.sh
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
"$PYTHON" -c "import jax; print('devices:', jax.devices())"
"$PYTHON" benchmarks/accelerator.py "$@"
status=$?
if [ -n "${OUT:-}" ]; then
  cp benchmarks/results/* "$OUT"/ 2>/dev/null || true
fi
exit $status
