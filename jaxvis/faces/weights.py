"""Loading the pretrained P/R/O-Net weights shipped with the `mtcnn` pip package.

The files `mtcnn/assets/weights/{pnet,rnet,onet}.lz4` are joblib pickles (lz4
frame compressed) of a Keras `get_weights()` list. A pickle can name any Python
callable, so the files are read with a restricted unpickler that resolves only
the three names such a file needs (joblib's array placeholder, `numpy.ndarray`
as a tag, and `numpy.dtype` for plain numeric dtypes) and reads the raw array
bytes itself. Anything else raises `WeightsFileError` before it is called.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import pickle
import zlib
from typing import Any

import numpy as np

from jaxvis.data import safe_pickle
from jaxvis.errors import InputError

_NUMERIC_KINDS = safe_pickle.NUMERIC_KINDS
_MAX_ARRAY_BYTES = 1 << 30
_HEADER_KEYS = {"subclass", "shape", "order", "dtype", "allow_mmap", "numpy_array_alignment_bytes"}


class WeightsFileError(InputError):
  """A weights file is malformed or contains anything but numeric arrays."""

  def __init__(self, message: str):  # "<file or role>: <problem>"
    where, _, problem = message.partition(": ")
    super().__init__(where, problem)


class _ArrayHeader:
  """Stands in for joblib's NumpyArrayWrapper: shape/dtype/order of the bytes that follow."""

  def __setstate__(self, state):
    if not isinstance(state, dict) or not set(state) <= _HEADER_KEYS:
      raise WeightsFileError(f"weights file: unexpected array header {state!r:.200}")
    self.shape = state.get("shape")
    self.order = state.get("order", "C")
    self.dtype = state.get("dtype")
    self.aligned = state.get("numpy_array_alignment_bytes") is not None
    if state.get("subclass", _NDARRAY_TAG) is not _NDARRAY_TAG:
      raise WeightsFileError("weights file: only plain numpy.ndarray arrays are accepted")
    if not (isinstance(self.shape, tuple) and all(isinstance(s, int) and s >= 0 for s in self.shape)):
      raise WeightsFileError(f"weights file: bad array shape {self.shape!r:.100}")
    if not isinstance(self.dtype, np.dtype) or self.dtype.kind not in _NUMERIC_KINDS:
      raise WeightsFileError(f"weights file: array dtype {self.dtype!r} is not numeric")
    if self.order not in ("C", "F"):
      raise WeightsFileError(f"weights file: bad array order {self.order!r}")


_NDARRAY_TAG = object()  # what the name numpy.ndarray resolves to: a marker, never called


def _numeric_dtype(name, align=False, copy=True):
  """The only callable a weights file may invoke: numpy.dtype of a numeric type string."""
  if not isinstance(name, str):  # joblib files spell dtypes as str (CIFAR's Python 2 pickles: bytes)
    raise WeightsFileError(f"weights file: bad dtype {name!r:.50}")
  try:
    return safe_pickle.numeric_dtype(name, align, copy)
  except safe_pickle.UnsafePickleError as e:
    raise WeightsFileError(f"weights file: {e}") from None


class _RestrictedUnpickler(pickle._Unpickler):  # the Python unpickler exposes `dispatch`
  _ALLOWED = {
      ("joblib.numpy_pickle", "NumpyArrayWrapper"): _ArrayHeader,
      ("numpy", "ndarray"): _NDARRAY_TAG,
      ("numpy", "dtype"): _numeric_dtype,
  }

  def find_class(self, module, name):
    try:
      return self._ALLOWED[(module, name)]
    except KeyError:
      raise WeightsFileError(
          f"weights file: refusing to load global {module}.{name} (only numeric arrays are allowed)"
      ) from None

  def persistent_load(self, pid):
    raise WeightsFileError("weights file: persistent ids are not allowed")

  def _load_build(self):
    state = self.stack.pop()
    inst = self.stack[-1]
    if isinstance(inst, _ArrayHeader):
      inst.__setstate__(state)
      self.stack[-1] = self._read_array(inst)
    elif isinstance(inst, np.dtype):
      if isinstance(state, tuple) and len(state) >= 2 and not isinstance(state[1], str):
        raise WeightsFileError(f"weights file: bad dtype state {state!r:.100}")
      try:
        self.stack[-1] = safe_pickle.dtype_with_state(inst, state)
      except safe_pickle.UnsafePickleError as e:
        raise WeightsFileError(f"weights file: {e}") from None
    else:
      raise WeightsFileError(f"weights file: cannot set state of {type(inst).__name__}")

  dispatch = dict(pickle._Unpickler.dispatch)
  dispatch[pickle.BUILD[0]] = _load_build

  def _read_array(self, header: _ArrayHeader) -> np.ndarray:
    if header.aligned:  # one byte giving the padding length, then the padding
      pad = self.read(1)
      if len(pad) != 1:
        raise WeightsFileError("weights file: truncated array padding")
      self.read(pad[0])
    count = int(np.prod(header.shape, dtype=np.int64))
    nbytes = count * header.dtype.itemsize
    if nbytes > _MAX_ARRAY_BYTES:
      raise WeightsFileError(f"weights file: array of {nbytes} bytes is too large")
    data = self.read(nbytes)
    if len(data) != nbytes:
      raise WeightsFileError("weights file: truncated array data")
    arr = np.frombuffer(data, dtype=header.dtype, count=count).copy()
    if header.order == "F":
      arr = arr.reshape(header.shape[::-1]).T
    else:
      arr = arr.reshape(header.shape)
    return arr.astype(arr.dtype.newbyteorder("="))


def _decompress(raw: bytes, path: str) -> bytes:
  if raw[:4] == b"\x04\x22\x4d\x18":
    import lz4.frame  # a dependency of the mtcnn package
    return lz4.frame.decompress(raw)
  if raw[:2] == b"\x1f\x8b":
    return gzip.decompress(raw)
  if raw[:3] == b"BZh":
    return bz2.decompress(raw)
  if raw[:6] == b"\xfd7zXZ\x00":
    return lzma.decompress(raw)
  if raw[:1] == b"\x78":
    return zlib.decompress(raw)
  if raw[:1] == b"\x80":
    return raw
  raise WeightsFileError(f"{path}: not a joblib pickle (unknown compression magic {raw[:4]!r})")


def load_array_list(path: str | os.PathLike) -> list[np.ndarray]:
  """Reads a joblib-pickled list of numpy arrays without running any code from the file.

  Raises:
    WeightsFileError: the file names any global other than numeric arrays, or
      does not hold a list of arrays.
  """
  path = os.fspath(path)
  with open(path, "rb") as f:
    raw = f.read()
  try:
    data = _decompress(raw, path)
  except WeightsFileError:
    raise
  except Exception as e:  # truncated or corrupt compressed stream
    raise WeightsFileError(f"{path}: cannot decompress weights ({type(e).__name__}: {e})") from None
  try:
    obj = _RestrictedUnpickler(io.BytesIO(data)).load()
  except WeightsFileError:
    raise
  except Exception as e:  # malformed stream: report, never fall back to pickle
    raise WeightsFileError(f"{path}: cannot read weights ({type(e).__name__}: {e})") from e
  if not isinstance(obj, (list, tuple)) or not all(isinstance(a, np.ndarray) for a in obj):
    raise WeightsFileError(f"{path}: expected a list of numpy arrays, got {type(obj).__name__}")
  return list(obj)


# Keras get_weights() order of each network -> (flax module name, param name).
_LAYOUT = {
    "pnet": ["conv1", "prelu1", "conv2", "prelu2", "conv3", "prelu3", "conv4_1", "conv4_2"],
    "rnet": ["conv1", "prelu1", "conv2", "prelu2", "conv3", "prelu3", "fc4", "prelu4",
             "fc5_1", "fc5_2"],
    "onet": ["conv1", "prelu1", "conv2", "prelu2", "conv3", "prelu3", "conv4", "prelu4",
             "fc5", "prelu5", "fc6_1", "fc6_2", "fc6_3"],
}


def arrays_to_params(net: str, arrays: list[np.ndarray]) -> dict[str, Any]:
  """Maps a Keras weight list of P/R/O-Net onto the Linen parameter tree."""
  if net not in _LAYOUT:
    raise ValueError(f"net: expected one of {sorted(_LAYOUT)}, got {net!r}")
  params: dict[str, Any] = {}
  it = iter(arrays)
  try:
    for layer in _LAYOUT[net]:
      if layer.startswith("prelu"):
        params[layer] = {"alpha": np.asarray(next(it), np.float32).reshape(-1)}
      else:
        kernel, bias = next(it), next(it)
        params[layer] = {"kernel": np.asarray(kernel, np.float32), "bias": np.asarray(bias, np.float32)}
  except StopIteration:
    raise WeightsFileError(f"{net}: weight list too short ({len(arrays)} arrays)") from None
  rest = list(it)
  if rest:
    raise WeightsFileError(f"{net}: {len(rest)} unexpected extra arrays in the weight list")
  return params


def mtcnn_weights_dir() -> str:
  """The folder of the installed `mtcnn` package's pretrained weights."""
  # Located without importing `mtcnn` (its __init__ imports TensorFlow, which a
  # runtime-only install does not have).
  from jaxvis.data.files import package_dir
  return package_dir("mtcnn", "assets", "weights")


def load_pretrained(weights_dir: str | os.PathLike | None = None) -> dict[str, Any]:
  """Pretrained P/R/O-Net parameters: {"pnet": {...}, "rnet": {...}, "onet": {...}}.

  Each value is a Linen `params` collection, i.e. pass `{"params": p["pnet"]}`
  to `PNet().apply`. L-Net has no published weights (train it: Faces II).
  """
  folder = os.fspath(weights_dir) if weights_dir is not None else mtcnn_weights_dir()
  out = {}
  for net in ("pnet", "rnet", "onet"):
    path = os.path.join(folder, f"{net}.lz4")
    if not os.path.exists(path):
      raise FileNotFoundError(f"weights_dir: {path} does not exist")
    out[net] = arrays_to_params(net, load_array_list(path))
  return out
