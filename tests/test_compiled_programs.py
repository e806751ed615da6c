"""Compiled programs are dropped before the process runs out of memory mappings."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxvis import compiled_programs
from jaxvis.faces import cascade, samples, weights


def test_counts_this_process_mappings_and_reads_the_limit(tmp_path):
  assert compiled_programs.mapping_count() > 10
  assert compiled_programs.mapping_limit() >= 1024
  f = tmp_path / "max_map_count"
  f.write_text("65530\n")
  assert compiled_programs.mapping_limit.__wrapped__(str(f)) == 65530
  assert compiled_programs.mapping_count(str(tmp_path / "missing")) is None


def _compiles_of(f, x) -> int:
  """Programs that calling `f(x)` compiles (or loads from the persistent cache)."""
  before = compiled_programs.compilation_count()
  f(x).block_until_ready()
  return compiled_programs.compilation_count() - before


def test_releases_programs_past_the_fraction_and_frees_their_mappings():
  compiled_programs.release_if_crowded(fraction=2.0)  # listener on, counted: nothing to do
  fns = [jax.jit(lambda x, k=k: jnp.sin(x) * k + jnp.cos(x * k)) for k in range(1, 9)]
  for f in fns:
    f(jnp.arange(16.0)).block_until_ready()  # 8 new programs, each with its kernels mapped
  before = compiled_programs.mapping_count()
  assert not compiled_programs.release_if_crowded(fraction=2.0)  # far below the limit: kept
  assert _compiles_of(fns[1], jnp.arange(16.0)) == 0                # still compiled
  assert not compiled_programs.release_if_crowded(fraction=0.0)  # no compilation since the count
  fns[0](jnp.arange(8.0)).block_until_ready()  # one more program
  n = compiled_programs.releases
  assert compiled_programs.release_if_crowded(fraction=0.0)
  assert compiled_programs.releases == n + 1
  assert compiled_programs.mapping_count() < before
  assert _compiles_of(fns[1], jnp.arange(16.0)) == 1                # dropped: compiled again


def test_face_detection_keeps_its_results_when_programs_are_dropped(monkeypatch):
  params = weights.load_pretrained()
  images = [samples.frames(1, 256, 256, seed=1), samples.frames(1, 192, 256, seed=2)]
  want = [jax.device_get(cascade.detect(params, x)) for x in images]
  assert all(w.valid.sum() >= 1 for w in want)  # real faces, so the comparison means something
  monkeypatch.setattr(compiled_programs, "RELEASE_FRACTION", 0.0)  # every new program: drop the rest
  n = compiled_programs.releases
  got = [jax.device_get(cascade.detect(params, x)) for x in images]
  assert compiled_programs.releases > n
  for a, b in zip(want, got):
    for x, y in zip(a, b):
      np.testing.assert_array_equal(x, y)
