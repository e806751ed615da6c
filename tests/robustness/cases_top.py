"""Bad inputs for the top-level commands (`demo`, `bench`, `info`) and unknown commands."""

from __future__ import annotations

from harness import Case


def cases(c) -> list[Case]:
  return [
      Case("top-unknown-command", ["teleport"], names="teleport"),
      Case("top-unknown-subcommand", ["faces", "teleport"], names="teleport"),
      Case("top-demo-unknown-section", ["demo", "--only", "teleport", "--out", c.root + "/demo"],
           names="--only"),
      Case("top-demo-out-inside-a-file", ["demo", "--out", c.unwritable], names="--out"),
      Case("top-bench-unknown", ["bench", "teleport"], names="teleport"),
      Case("top-info-bad-flag", ["info", "--yaml"], names="--yaml"),
  ]
