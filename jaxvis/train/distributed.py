"""Multi-host start-up: one call that initialises jax.distributed when the environment asks."""

from __future__ import annotations

import os

import jax

_ENV_HINTS = ("JAX_COORDINATOR_ADDRESS", "COORDINATOR_ADDRESS", "SLURM_JOB_ID",
              "OMPI_COMM_WORLD_SIZE", "TPU_WORKER_HOSTNAMES", "MEGASCALE_COORDINATOR_ADDRESS")
_initialised = False


def maybe_initialize() -> bool:
  """Calls `jax.distributed.initialize()` if the environment describes a multi-process run.

  Recognised: JAX_COORDINATOR_ADDRESS (+ JAX_NUM_PROCESSES, JAX_PROCESS_ID), SLURM, Open MPI and
  Cloud TPU pods (which jax auto-detects). Returns True if initialised (now or earlier).
  """
  global _initialised
  if _initialised:
    return True
  if not any(os.environ.get(k) for k in _ENV_HINTS):
    return False
  # CPU processes need a collectives backend for cross-process reductions (harmless on GPU/TPU).
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  address = os.environ.get("JAX_COORDINATOR_ADDRESS")
  if address:
    jax.distributed.initialize(coordinator_address=address,
                               num_processes=int(os.environ["JAX_NUM_PROCESSES"]),
                               process_id=int(os.environ["JAX_PROCESS_ID"]))
  else:
    jax.distributed.initialize()
  _initialised = True
  return True
