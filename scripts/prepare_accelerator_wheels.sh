#!/usr/bin/env bash
# On a development machine (with PyPI): downloads into .whl/ (git-ignored) the
# wheels the accelerator host lacks, for its Python 3.12 on manylinux x86_64.
# That host has JAX (CUDA), flax, optax, orbax, opencv, scikit-image and torch,
# and no network; `scripts/accelerator_run.sh` installs from .whl/ there.
#
# Only packages the benchmarks import are fetched, without their dependency
# trees (tensorflow-datasets would pull pyarrow, 40 MB, which no benchmark
# needs): the device's `carry` limit is 64 MiB for everything sent along.
#
#   scripts/prepare_accelerator_wheels.sh      # then: ls .whl/
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
dest=.whl
rm -rf "$dest"
mkdir -p "$dest"
# name==version pins come from constraints.txt where it has them, so the device
# runs the versions the CPU suite tested.
packages=(grain array-record mtcnn joblib lz4 segno zxing-cpp safetensors h5py scikit-learn
          threadpoolctl tqdm importlib_resources cloudpickle portpicker dm-tree
          facenet-pytorch)  # facenet-pytorch: the peer benchmarks/faces.py times on the GPU
pinned=()
for p in "${packages[@]}"; do
  pin=$(grep -i -E "^${p//-/[-_]}==" constraints.txt | head -1 || true)
  pinned+=("${pin:-$p}")
done
"$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --abi cp312 --abi abi3 --abi none \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform any \
  -d "$dest" "${pinned[@]}"
du -sh "$dest"
ls "$dest"
