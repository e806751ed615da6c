"""Reading pickled data without running code from the file.

A pickle can name any Python callable, and `pickle.load` calls it: a crafted
dataset file runs code on the reader's machine. `load(file)` resolves only the
names plain data needs: numpy's ndarray reconstruction and numeric dtypes. Dicts,
lists, tuples, str, bytes, int, float, bool and None are built by the pickle
opcodes themselves and need no global. Anything else raises `UnsafePickleError`
before it is called.

Used for the CIFAR-10 python batches; `jaxvis.faces.weights` shares the dtype
rules for joblib weight files.
"""

from __future__ import annotations

import pickle
from typing import IO, Any

import numpy as np

NUMERIC_KINDS = "biuf"  # bool, signed, unsigned, float
MAX_ARRAY_BYTES = 1 << 31


class UnsafePickleError(ValueError):
  """A pickle names something other than plain data, or is malformed."""


def numeric_dtype(name, align=False, copy=True) -> np.dtype:
  """The only way a file may build a dtype: numpy.dtype of a plain numeric type string."""
  if not isinstance(name, (str, bytes)) or len(name) > 8:
    raise UnsafePickleError(f"bad dtype {name!r:.50}")
  dt = np.dtype(name.decode("ascii") if isinstance(name, bytes) else name)
  if dt.kind not in NUMERIC_KINDS or dt.fields is not None or dt.subdtype is not None:
    raise UnsafePickleError(f"dtype {name!r} is not a plain numeric type")
  return dt


def dtype_with_state(dtype: np.dtype, state) -> np.dtype:
  """Applies numpy's dtype pickle state (version, byteorder, subarray, names, fields, ...)."""
  if not (isinstance(state, tuple) and len(state) >= 2 and _text(state[1]) in ("<", ">", "|", "=")
          and all(s is None for s in state[2:5])):
    raise UnsafePickleError(f"bad dtype state {state!r:.100}")
  order = _text(state[1])
  return dtype.newbyteorder(order) if order in "<>" else dtype


def _text(v):
  return v.decode("latin1") if isinstance(v, bytes) else v


class _PendingArray:
  """What `_reconstruct(ndarray, ...)` returns; BUILD's state turns it into the array."""


_NDARRAY = object()  # numpy.ndarray resolves to this marker; it is never called


def _reconstruct(cls, shape, dtype_code):
  if cls is not _NDARRAY:
    raise UnsafePickleError("only plain numpy.ndarray arrays are accepted")
  return _PendingArray()


def _array_from_state(state) -> np.ndarray:
  # ndarray.__reduce__ state: (version, shape, dtype, is_fortran, raw bytes)
  if not (isinstance(state, tuple) and len(state) == 5):
    raise UnsafePickleError(f"bad array state {str(state)[:100]}")
  _, shape, dtype, fortran, raw = state
  if not isinstance(dtype, np.dtype) or dtype.kind not in NUMERIC_KINDS:
    raise UnsafePickleError(f"array dtype {dtype!r} is not numeric")
  if not (isinstance(shape, tuple) and all(isinstance(s, int) and s >= 0 for s in shape)):
    raise UnsafePickleError(f"bad array shape {shape!r:.100}")
  if isinstance(raw, str):  # Python 2 pickles read with encoding="latin1"
    raw = raw.encode("latin1")
  if not isinstance(raw, (bytes, bytearray)):
    raise UnsafePickleError("array data is not raw bytes")
  count = int(np.prod(shape, dtype=np.int64))
  nbytes = count * dtype.itemsize
  if nbytes > MAX_ARRAY_BYTES or len(raw) != nbytes:
    raise UnsafePickleError(f"array data holds {len(raw)} bytes, expected {nbytes} for {shape} {dtype}")
  arr = np.frombuffer(bytes(raw), dtype=dtype, count=count)
  arr = arr.reshape(shape[::-1]).T if fortran else arr.reshape(shape)
  return arr.astype(dtype.newbyteorder("="))


def _latin1_encode(text, encoding="latin1"):
  """How protocol-2 pickles written by Python 3 spell bytes: _codecs.encode(str, 'latin1')."""
  if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
    raise UnsafePickleError(f"_codecs.encode is allowed only as str -> latin1 bytes")
  return text.encode("latin1")


def _frombuffer(buffer, dtype, shape, order):
  """numpy's protocol-5 array reconstruction: raw bytes + dtype + shape + order."""
  if order not in ("C", "F"):
    raise UnsafePickleError(f"bad array order {order!r}")
  return _array_from_state((1, tuple(shape), dtype, order == "F", bytes(buffer)))


class _RestrictedUnpickler(pickle._Unpickler):  # the Python unpickler exposes `dispatch`
  _ALLOWED = {
      ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
      ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
      ("numpy", "ndarray"): _NDARRAY,
      ("numpy", "dtype"): numeric_dtype,
      ("numpy.core.numeric", "_frombuffer"): _frombuffer,
      ("numpy._core.numeric", "_frombuffer"): _frombuffer,
      ("_codecs", "encode"): _latin1_encode,
  }

  def find_class(self, module, name):
    try:
      return self._ALLOWED[(module, name)]
    except KeyError:
      raise UnsafePickleError(f"refusing to load global {module}.{name} "
                              f"(only plain data and numeric arrays are allowed)") from None

  def persistent_load(self, pid):
    raise UnsafePickleError("persistent ids are not allowed")

  def _load_build(self):
    state = self.stack.pop()
    inst = self.stack[-1]
    if isinstance(inst, _PendingArray):
      self.stack[-1] = _array_from_state(state)
    elif isinstance(inst, np.dtype):
      self.stack[-1] = dtype_with_state(inst, state)
    else:
      raise UnsafePickleError(f"cannot set state of {type(inst).__name__}")

  dispatch = dict(pickle._Unpickler.dispatch)
  dispatch[pickle.BUILD[0]] = _load_build


def load(file: IO[bytes], encoding: str = "bytes") -> Any:
  """`pickle.load` restricted to plain data and numeric numpy arrays.

  Raises:
    UnsafePickleError: the file names any other global, or is malformed.
  """
  try:
    return _RestrictedUnpickler(file, encoding=encoding).load()
  except UnsafePickleError:
    raise
  except Exception as e:  # truncated or malformed stream: report, never fall back to pickle
    raise UnsafePickleError(f"malformed pickle ({type(e).__name__}: {e})") from None
