"""The `jaxvis` command.

One subcommand group per family plus `demo`, `bench` and `info`. Each family
owns `jaxvis/<family>/cli.py` with `register(parser)` which adds that group's
subcommands to the given argparse parser; every subcommand sets
`func=callable(args) -> int`. Imports are lazy so `jaxvis --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys

from jaxvis import cli_args
from jaxvis.errors import InputError

FAMILIES = {
    "saliency": "real-time saliency masks for black-box classifiers",
    "faces": "MTCNN face detection (and the QR-code cascade)",
    "outfits": "outfit grading and closet recommendation",
    "adjectives": "pair-wise stacked conv auto-encoders for 'adjective noun' search",
    "music": "image-to-music recommendation through the arousal-valence plane",
}


def _register_family(sub, name: str, help_text: str) -> None:
  parser = sub.add_parser(name, help=help_text, description=help_text)
  try:
    module = importlib.import_module(f"jaxvis.{name}.cli")
  except ModuleNotFoundError as e:
    if e.name != f"jaxvis.{name}.cli":
      raise
    parser.set_defaults(func=lambda args, n=name: _unavailable(n))
    return
  module.register(parser)
  if parser.get_default("func") is None:
    parser.set_defaults(func=lambda args, p=parser: (p.print_help(), 2)[1])


def _unavailable(name: str) -> int:
  print(f"jaxvis {name}: this family has no commands in this version.", file=sys.stderr)
  return 2


def _cmd_info(args) -> int:
  from jaxvis import info
  data = info.collect()
  print(json.dumps(data, indent=None if args.json else 2))
  return 0


def _cmd_demo(args) -> int:
  from jaxvis import demo
  return demo.main(out_dir=args.out, sections=args.only, quick=args.quick)


def _cmd_bench(args) -> int:
  from jaxvis import bench
  return bench.main(args.names, quick=args.quick)


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(prog="jaxvis", description=__doc__.splitlines()[0])
  sub = parser.add_subparsers(dest="command", metavar="COMMAND")
  for name, help_text in FAMILIES.items():
    _register_family(sub, name, help_text)

  p = sub.add_parser("demo", help="run every family on bundled real data and write an HTML report")
  p.add_argument("--out", type=cli_args.output_dir, default="demo-report",
                 help="output folder (default: demo-report)")
  p.add_argument("--only", nargs="*", default=None, help="run only these sections")
  p.add_argument("--quick", action="store_true", help="smallest settings (for tests)")
  p.set_defaults(func=_cmd_demo)

  p = sub.add_parser("bench", help="run benchmarks/<name>.py scripts (JSON lines on stdout)")
  p.add_argument("names", nargs="*", help="benchmark names (default: all)")
  p.add_argument("--quick", action="store_true", help="finish in under a minute per script on a CPU")
  p.set_defaults(func=_cmd_bench)

  p = sub.add_parser("info", help="devices, backend and library versions")
  p.add_argument("--json", action="store_true", help="one line of JSON")
  p.set_defaults(func=_cmd_info)
  return parser


def configure_jax() -> None:
  """Command-line defaults that make repeated CPU runs fast; each can be overridden.

  * A persistent XLA compilation cache (`JAXVIS_COMPILATION_CACHE`, default
    ~/.cache/jaxvis/xla; empty disables it): the face cascade, for one, takes tens
    of seconds to compile on a CPU and is reused by every later `jaxvis` call. It
    keeps programs of any compile time: `jaxvis demo --quick` compiled 194 programs of
    under a second each, 9.3 s of its 46 s warm run, again on every run when only
    those over 1 s (jax's usual threshold) were kept.
  * On a CPU-only host, `jax_threefry_partitionable=False` unless
    JAX_THREEFRY_PARTITIONABLE is set: XLA:CPU compiles the partitionable threefry
    ~10x slower (seconds per random draw), and partitioning only matters on meshes
    of accelerators.
  * The heap trimmed after every XLA compilation (`compiler_memory`): the compiler's
    freed memory goes back to the OS before the program runs (a first 4000x3000
    face detection peaked at 2.28 GB, 1.79 GB with it).
  * (Set in `main`, before this runs: the command relaunches itself once with glibc's
    transparent-huge-page tunable, `host_memory`: XLA's per-run buffers then fault in
    2 MB at a time, 1080p face detection ~25% faster; JAXVIS_HUGE_PAGES=0 turns it off.)
  """
  import jax

  from jaxvis import compiler_memory
  compiler_memory.release_after_compile()
  cache = os.environ.get("JAXVIS_COMPILATION_CACHE",
                         os.path.join(os.path.expanduser("~"), ".cache", "jaxvis", "xla"))
  if cache and "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    jax.config.update("jax_compilation_cache_dir", cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  if "JAX_THREEFRY_PARTITIONABLE" not in os.environ and jax.default_backend() == "cpu":
    jax.config.update("jax_threefry_partitionable", False)


def main(argv: list[str] | None = None) -> int:
  if argv is None:  # the real command line (not an in-process call): before JAX starts
    from jaxvis import host_memory
    host_memory.relaunch_with_huge_pages()
  parser = build_parser()
  try:  # argparse reports bad options itself (`error: argument --x: ...`, status 2)
    args = parser.parse_args(argv)
  except SystemExit as e:  # returned, not raised, so in-process callers get the status
    return e.code if isinstance(e.code, int) else 2
  if getattr(args, "func", None) is None:
    parser.print_help()
    return 2
  if args.command != "info":
    configure_jax()
  try:
    return int(args.func(args) or 0)
  except InputError as e:
    # The one place expected errors are reported; anything else keeps its traceback.
    print(f"error: {e.where}: {e.problem}", file=sys.stderr)
    return 2


if __name__ == "__main__":
  sys.exit(main())
