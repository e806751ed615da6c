"""Class names for `--class`: from a synset file or the checkpoint, and resolving what a user typed.

A synset file is ImageNet's `LOC_synset_mapping.txt` ("n01440764 tench, Tinca tinca", one class
per line, in class order) or plain text with one class name per line. A checkpoint may carry
`class_names` (a list) or `synsets` (wnids) in its masking_config.json metadata.
"""

from __future__ import annotations

import re

from jaxvis.errors import InputError

_WNID = re.compile(r"^n\d{8}$")
PREDICTED = "predicted"


def read_synset_file(path: str) -> tuple[list[str], list[str]]:
  """(ids, names): ids are the wnids of a LOC_synset_mapping-style file, else the names themselves."""
  try:
    with open(path, encoding="utf-8") as f:
      lines = [line.strip() for line in f]
  except UnicodeDecodeError:
    raise InputError(path, "expected a UTF-8 text file with one class per line")
  ids, names = [], []
  for number, line in enumerate(lines, 1):
    if not line:
      continue
    head, _, rest = line.partition(" ")
    if _WNID.match(head):
      if not rest.strip():
        raise InputError(f"{path}:{number}", f"expected 'wnid name[, name...]', got {line!r}")
      ids.append(head)
      names.append(rest.strip())
    else:
      ids.append(line)
      names.append(line)
  if not names:
    raise InputError(path, "no class names (expected one class per line)")
  if len(set(ids)) != len(ids):
    dup = next(i for i in ids if ids.count(i) > 1)
    raise InputError(path, f"class {dup!r} is listed twice")
  return ids, names


def from_metadata(meta: dict) -> tuple[list[str], list[str]] | None:
  """(ids, names) stored with a checkpoint, or None."""
  if isinstance(meta.get("class_names"), list):
    names = [str(n) for n in meta["class_names"]]
    ids = [str(i) for i in meta.get("synsets", names)]
    return (ids, names) if len(ids) == len(names) else (names, names)
  if isinstance(meta.get("synsets"), list):
    ids = [str(s) for s in meta["synsets"]]
    return ids, ids
  return None


def short_name(name: str) -> str:
  """'tench, Tinca tinca' -> 'tench'."""
  return name.split(",")[0].strip()


def resolve(spec: str, num_classes: int, table: tuple[list[str], list[str]] | None = None) -> int | None:
  """The class id a user asked for: an integer id, a class name or wnid from `table`, or None for
  "predicted" (the black box's top class, decided by the caller)."""
  text = str(spec).strip()
  if text.lower() == PREDICTED:
    return None
  if re.fullmatch(r"[+-]?\d+", text):
    k = int(text)
    if not 0 <= k < num_classes:
      raise InputError("--class", f"expected 0..{num_classes - 1}, got {k}")
    return k
  if table is None:
    raise InputError("--class", f"expected a class id 0..{num_classes - 1} or 'predicted', got {text!r} "
                                "(class names need --synsets FILE or a checkpoint that stores them)")
  ids, names = table
  wanted = text.lower()
  for k, (i, n) in enumerate(zip(ids, names)):
    if wanted in (i.lower(), n.lower()) or wanted in (p.strip().lower() for p in n.split(",")):
      if k >= num_classes:
        raise InputError("--class", f"{text!r} is class {k}, but the model has {num_classes} classes")
      return k
  close = [short_name(n) for n in names if wanted in n.lower()][:5]
  hint = f"; close: {', '.join(close)}" if close else ""
  raise InputError("--class", f"no class named {text!r} among {len(names)} classes{hint}")
