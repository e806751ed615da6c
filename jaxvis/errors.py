"""The one error type for bad user input.

Library code raises `InputError(where, problem)` for anything the caller can fix:
a missing or unreadable file, a malformed record, an argument out of range.
`where` names the argument or the file (with `:line` when known). The `jaxvis`
command catches it in one place (`jaxvis.cli.main`) and prints
`error: <where>: <problem>` with exit status 2; anything else is a bug and keeps
its traceback. It subclasses ValueError so library callers that already catch
ValueError keep working.
"""

from __future__ import annotations


class InputError(ValueError):
  """Bad input the caller can fix.

  Attributes:
    where: the argument name, or a file path optionally followed by `:line`.
    problem: what is wrong and what was expected.
  """

  def __init__(self, where: str, problem: str):
    self.where = str(where)
    self.problem = str(problem)
    super().__init__(f"{self.where}: {self.problem}")


def at_line(path: str, line: int | None) -> str:
  """`path:line` (or just `path` when the line is unknown), for `InputError.where`."""
  return f"{path}:{line}" if line is not None else str(path)
