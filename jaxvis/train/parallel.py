"""Device mesh with a `data` axis, and placement of batches and replicated state.

The same code runs on 1 CPU, 8 GPUs or a multi-host TPU pod: the global batch is
one array sharded over `data`; each process supplies its own slice.
"""

from __future__ import annotations

import jax
import numpy as np

Mesh = jax.sharding.Mesh
P = jax.sharding.PartitionSpec
NamedSharding = jax.sharding.NamedSharding

DATA_AXIS = "data"


def make_mesh(num_devices: int | None = None) -> Mesh:
  """A 1-D mesh with axis `data` over all (or the first `num_devices`) devices."""
  devices = jax.devices()
  if num_devices is not None:
    if not 1 <= num_devices <= len(devices):
      raise ValueError(f"num_devices: expected 1..{len(devices)}, got {num_devices}")
    devices = devices[:num_devices]
  return Mesh(np.asarray(devices), (DATA_AXIS,))


def batch_sharding(mesh: Mesh) -> NamedSharding:
  """Leading (batch) dimension split over `data`; the rest replicated."""
  return NamedSharding(mesh, P(DATA_AXIS))


def replicated_sharding(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def replicate(tree, mesh: Mesh):
  """Places every leaf of `tree` fully replicated on the mesh."""
  return jax.device_put(tree, replicated_sharding(mesh))


def shard_batch(batch, mesh: Mesh):
  """Turns this process's slice of a global batch (numpy leaves) into global arrays.

  With one process the slice is the whole batch. Every leaf's leading dimension
  must divide evenly over the mesh's devices (per process: its local devices).

  Raises:
    ValueError: naming the leaf whose batch size does not divide.
  """
  sharding = batch_sharding(mesh)
  local_devices = len(mesh.local_devices)

  def place(path, x):
    x = np.asarray(x)
    if x.ndim == 0 or x.shape[0] % local_devices:
      name = jax.tree_util.keystr(path) or "batch"
      shape = x.shape
      raise ValueError(
          f"batch{name}: leading dimension {shape[0] if shape else 'none'} must be divisible by "
          f"the {local_devices} local device(s) of the 'data' mesh axis (global batch = "
          f"{local_devices} x per-device batch x processes); got shape {shape}")
    if jax.process_count() == 1:
      return jax.device_put(x, sharding)
    return jax.make_array_from_process_local_data(sharding, x)

  return jax.tree_util.tree_map_with_path(place, batch)
