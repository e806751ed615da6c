"""Reading the project's own files (JSON, msgpack weights, package data) with clear errors.

Each reader raises `InputError` naming the file, instead of a bare
JSONDecodeError / msgpack exception / KeyError deep in a family.
"""

from __future__ import annotations

import importlib.util
import json
import os
from typing import Any

from jaxvis.errors import InputError


def read_json(path: str | os.PathLike, what: str = "JSON") -> Any:
  """Parses a JSON file; `what` says what the file should be, for the error message."""
  path = os.fspath(path)
  try:
    with open(path) as f:
      return json.load(f)
  except FileNotFoundError:
    raise InputError(path, "does not exist") from None
  except IsADirectoryError:
    raise InputError(path, f"is a folder, expected a {what} file") from None
  except (UnicodeDecodeError, json.JSONDecodeError) as e:
    line = f" (line {e.lineno})" if isinstance(e, json.JSONDecodeError) else ""
    raise InputError(path, f"is not valid {what}{line}: {e}") from None


def require_keys(record: dict, keys, where: str) -> None:
  """Raises InputError naming `where` when `record` lacks any of `keys`."""
  if not isinstance(record, dict):
    raise InputError(where, f"expected a JSON object, got {type(record).__name__}")
  missing = [k for k in keys if k not in record]
  if missing:
    raise InputError(where, f"missing field(s) {', '.join(map(repr, missing))}")


def read_msgpack(path: str | os.PathLike) -> Any:
  """Reads a flax msgpack state (weights) file."""
  from flax import serialization
  path = os.fspath(path)
  try:
    with open(path, "rb") as f:
      raw = f.read()
  except FileNotFoundError:
    raise InputError(path, "does not exist") from None
  except IsADirectoryError:
    raise InputError(path, "is a folder, expected a msgpack weights file") from None
  try:
    tree = serialization.msgpack_restore(raw)
  except Exception as e:  # msgpack raises several unrelated types for corrupt data
    raise InputError(path, f"is not a readable msgpack weights file ({type(e).__name__}: {e})") from None
  if not isinstance(tree, dict):
    raise InputError(path, f"expected a dict of weights, got {type(tree).__name__}")
  return tree


def package_dir(package: str, *parts: str) -> str:
  """A folder inside an installed package, found WITHOUT importing the package.

  `importlib.resources.files(pkg)` imports `pkg`: for `mtcnn` that imports
  TensorFlow, which a runtime-only install does not have. `find_spec` of a
  top-level package only locates it.

  Raises:
    InputError: the package is not installed, or lacks the folder.
  """
  spec = importlib.util.find_spec(package)
  if spec is None or not spec.submodule_search_locations:
    raise InputError(package, f"the Python package {package!r} is not installed (pip install {package})")
  folder = os.path.join(list(spec.submodule_search_locations)[0], *parts)
  if not os.path.isdir(folder):
    raise InputError(package, f"the installed {package!r} package has no {os.path.join(*parts)} folder "
                              f"({folder})")
  return folder
