"""Native CPU kernels behind XLA's FFI, compiled for this machine on first use.

Why: XLA:CPU runs the face cascade's convolutions on one thread at ~40 GFLOP/s on the
development machine (2-core AMD EPYC, AVX-512), where the same arithmetic in a plain
register-blocked kernel runs at 100-135 GFLOP/s per core (docs/faces.md, "native CPU
kernels"). The kernels here fuse a whole stage (P-Net's pyramid, P-Net's layers) so
their intermediates stay in cache, and split the work over the cores.

How: each kernel's C++ source ships in this package (`*.cc`). The first call compiles it
with the system's C++ compiler (`CXX`, else `c++`, else `g++`) for this CPU
(`-O3 -march=native`) against the FFI headers of the installed jaxlib, into
`JAXVIS_NATIVE_CACHE` (default ~/.cache/jaxvis/native), keyed by the source, the flags,
the compiler's version and jaxlib's version; later processes load the cached library.
Nothing is downloaded, and only this package's own sources are compiled.

When no compiler is found, or `JAXVIS_NATIVE=0`, `available` says why and the callers
run their XLA forms instead, with a warning naming the reason (never silently).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
import warnings
from importlib import resources

IMPLS = ("auto", "native", "xla")  # what callers may ask for: see `use`
FLAGS = ("-O3", "-march=native", "-std=c++17", "-shared", "-fPIC", "-pthread", "-fno-math-errno", "-ffp-contract=fast")
_lock = threading.Lock()


class NativeUnavailable(RuntimeError):
  """A native kernel cannot be built or loaded here; the message says why."""


def _compiler() -> str:
  for name in (os.environ.get("CXX"), "c++", "g++"):
    if name and shutil.which(name):
      return shutil.which(name)
  raise NativeUnavailable("no C++ compiler found (set CXX, or install g++)")


def cache_dir() -> str:
  return os.environ.get("JAXVIS_NATIVE_CACHE",
                        os.path.join(os.path.expanduser("~"), ".cache", "jaxvis", "native"))


def _source(name: str) -> bytes:
  try:
    return resources.files(__name__).joinpath(f"{name}.cc").read_bytes()
  except OSError as e:  # an install without the package's sources
    raise NativeUnavailable(f"the source {name}.cc is not in the installed package: {e}") from e


def _headers() -> dict[str, bytes]:
  """The package's shared headers (`common.h`), which every kernel may include."""
  try:
    return {f.name: f.read_bytes() for f in resources.files(__name__).iterdir() if f.name.endswith(".h")}
  except OSError as e:
    raise NativeUnavailable(f"cannot read the package's headers: {e}") from e


@functools.cache
def library(name: str) -> ctypes.CDLL:
  """The compiled kernel library `name` (`jaxvis/native/<name>.cc`), built if needed.

  Raises NativeUnavailable (with the reason) when it cannot be built or loaded.
  """
  if os.environ.get("JAXVIS_NATIVE", "1") == "0":
    raise NativeUnavailable("disabled by JAXVIS_NATIVE=0")
  if platform.system() != "Linux" and platform.system() != "Darwin":
    raise NativeUnavailable(f"native kernels are built on Linux and macOS, not {platform.system()}")
  import jax
  import jaxlib

  cxx = _compiler()
  source = _source(name)
  try:
    version = subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=60).stdout
  except (OSError, subprocess.SubprocessError) as e:
    raise NativeUnavailable(f"{cxx} --version failed: {e}") from e
  headers = _headers()
  key = hashlib.sha256(b"\0".join([source, *(headers[h] for h in sorted(headers)), " ".join(FLAGS).encode(),
                                   version.encode(), jaxlib.__version__.encode(), platform.machine().encode()]))
  path = os.path.join(cache_dir(), f"{name}-{key.hexdigest()[:16]}.so")
  with _lock:
    if not os.path.exists(path):
      _compile(cxx, name, source, path, jax.ffi.include_dir(), headers)
  try:
    return ctypes.cdll.LoadLibrary(path)
  except OSError as e:
    raise NativeUnavailable(f"cannot load {path}: {e}") from e


def _compile(cxx: str, name: str, source: bytes, path: str, include: str,
             headers: dict[str, bytes] | None = None) -> None:
  """Compiles into a temporary file first, then renames it: concurrent processes never
  load a half-written library. `headers` are written beside the source."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with tempfile.TemporaryDirectory(prefix="jaxvis-native-") as tmp:
    for file, text in {**(headers or {}), f"{name}.cc": source}.items():
      with open(os.path.join(tmp, file), "wb") as f:
        f.write(text)
    src = os.path.join(tmp, f"{name}.cc")
    out = os.path.join(tmp, os.path.basename(path))
    cmd = [cxx, *FLAGS, "-I", include, src, "-o", out]
    try:
      done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as e:
      raise NativeUnavailable(f"compiling {name}.cc failed: {e}") from e
    if done.returncode != 0:
      raise NativeUnavailable(f"compiling {name}.cc failed ({' '.join(cmd)}):\n{done.stderr[-2000:]}")
    staged = path + f".{os.getpid()}.tmp"
    shutil.copyfile(out, staged)
    os.replace(staged, path)


@functools.cache
def register(name: str, targets: tuple[str, ...]) -> None:
  """Builds library `name` and registers each symbol in `targets` as the CPU FFI target
  `jaxvis_<symbol>` (once per process)."""
  import jax

  lib = library(name)
  for symbol in targets:
    jax.ffi.register_ffi_target(f"jaxvis_{symbol}", jax.ffi.pycapsule(getattr(lib, symbol)),
                                platform="cpu")


def available(name: str, targets: tuple[str, ...]) -> tuple[bool, str]:
  """(True, "") when the kernels are registered; else (False, why)."""
  try:
    register(name, targets)
  except NativeUnavailable as e:
    return False, str(e)
  return True, ""


def available_on_cpu(libraries: dict[str, tuple[str, ...]]) -> tuple[bool, str]:
  """(True, "") on a CPU backend where every library's targets are registered (`available`);
  else (False, why)."""
  import jax

  if jax.default_backend() != "cpu":
    return False, f"native kernels run on CPU backends, not {jax.default_backend()!r}"
  for name, targets in libraries.items():
    ok, why = available(name, targets)
    if not ok:
      return False, why
  return True, ""


def use(impl: str, what: str, available_here, refuse) -> bool:
  """Whether `what` runs as native kernels for `impl` (one of IMPLS, checked by the caller),
  given `available_here()` -> (ok, why): "xla" never; "native" when available, else
  `refuse(why)` is raised; "auto" when available, else not, with one warning on CPU backends."""
  import jax

  if impl == "xla":
    return False
  ok, why = available_here()
  if ok:
    return True
  if impl == "native":
    raise refuse(why)
  if jax.default_backend() == "cpu":
    warn_unavailable(what, why)
  return False


@functools.cache
def warn_unavailable(what: str, why: str) -> None:
  """One warning per process and reason: the XLA form runs instead of the native kernel
  (none when the caller chose that with JAXVIS_NATIVE=0)."""
  if os.environ.get("JAXVIS_NATIVE", "1") == "0":
    return
  warnings.warn(f"{what}: the native CPU kernel is unavailable ({why}); running the XLA form "
                "instead (slower on CPUs). Set JAXVIS_NATIVE=0 to choose that form silently.",
                RuntimeWarning, stacklevel=3)


def threads() -> int:
  """Worker threads a native kernel may use: JAXVIS_NATIVE_THREADS, else the CPUs this
  process may run on."""
  env = os.environ.get("JAXVIS_NATIVE_THREADS")
  if env:
    try:
      n = int(env)
    except ValueError:
      raise ValueError(f"JAXVIS_NATIVE_THREADS: expected a positive integer, got {env!r}") from None
    if n < 1:
      raise ValueError(f"JAXVIS_NATIVE_THREADS: expected a positive integer, got {env!r}")
    return n
  try:
    return max(1, len(os.sched_getaffinity(0)))
  except AttributeError:
    return max(1, os.cpu_count() or 1)
