"""P-Net run chunk by chunk (the memory bound for large batches) gives the whole-batch result."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxvis.faces import cascade, samples, weights


def test_chunked_pnet_matches_whole_batch():
  params = weights.load_pretrained()["pnet"]
  frames = samples.frames(3, 120, 160, seed=3)          # 3 frames, chunks of 2: one padded chunk
  norm = cascade.normalize(jnp.asarray(frames))
  sizes = jnp.asarray(np.tile([[120, 160]], (3, 1)), jnp.int32)
  whole_cfg = cascade.CascadeConfig(pnet_chunk=0)
  run = jax.jit(cascade._pnet_chunked, static_argnums=(3,))
  whole = run(params, norm, sizes, whole_cfg, 0.6)
  chunked = run(params, norm, sizes, dataclasses.replace(whole_cfg, pnet_chunk=2), 0.6)
  assert int(np.asarray(whole[1]).sum()) >= 3            # real candidates in every frame
  np.testing.assert_array_equal(np.asarray(chunked[1]), np.asarray(whole[1]))
  np.testing.assert_allclose(np.asarray(chunked[0]), np.asarray(whole[0]), atol=1e-3)
  np.testing.assert_array_equal(np.asarray(chunked[2]), np.asarray(whole[2]))  # overflow flags


def test_negative_pnet_chunk_is_rejected():
  with pytest.raises(ValueError, match="pnet_chunk"):
    cascade.CascadeConfig(pnet_chunk=-1)


def test_pnet_chunk_follows_the_device_memory():
  hd = 1080 * 1920
  # the H100 (bytes_limit ~ 60 GB): the measured 2^23 pixels a pass, 4 full-HD frames
  assert cascade.pnet_chunk_for(hd, cpu=False, bytes_limit=60 * 2**30) == 4
  assert cascade.pnet_chunk_for(hd, cpu=False, bytes_limit=None) == 4
  # a 4 GB device: a sixteenth is 256 MB, 3.4 Mpx of activations: one full-HD frame a pass
  assert cascade.pnet_chunk_for(hd, cpu=False, bytes_limit=4 * 2**30) == 1
  assert cascade.pnet_chunk_for(480 * 640, cpu=False, bytes_limit=4 * 2**30) == 8
  assert cascade.pnet_chunk_for(480 * 640, cpu=False, bytes_limit=60 * 2**30) == 16
  # CPUs with XLA's P-Net: 2^20 pixels for speed, whatever the memory
  assert cascade.pnet_chunk_for(hd, cpu=True, bytes_limit=None) == 1
  assert cascade.pnet_chunk_for(480 * 640, cpu=True, bytes_limit=None) == 2
  # ...with the native P-Net, which streams its activations: 2^23
  assert cascade.pnet_chunk_for(hd, cpu=True, bytes_limit=None, streamed=True) == 4
  assert cascade.pnet_chunk_for(480 * 640, cpu=True, bytes_limit=None, streamed=True) == 16
  # a 4000x3000 photo never asks for less than one image a pass
  assert cascade.pnet_chunk_for(4000 * 3000, cpu=False, bytes_limit=2**30) == 1
  if jax.default_backend() == "cpu":   # what auto_caps asks of this machine
    assert cascade.auto_caps(1080, 1920)["pnet_chunk"] == 1 and cascade.auto_caps(480, 640)["pnet_chunk"] == 2
