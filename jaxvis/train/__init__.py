"""Training core: mesh and shardings, train state, jitted steps, checkpoints, fit loop."""

from jaxvis.train import distributed
from jaxvis.train.checkpoint import Checkpointer
from jaxvis.train.fit import TrainingDiverged, fit
from jaxvis.train.lock import workdir_lock
from jaxvis.train.metrics import MetricWriter
from jaxvis.train.parallel import (batch_sharding, make_mesh, replicate, replicated_sharding,
                                   shard_batch)
from jaxvis.train.state import TrainState
from jaxvis.train.step import make_eval_step, make_train_step

__all__ = [
    "Checkpointer", "MetricWriter", "TrainState", "TrainingDiverged", "batch_sharding", "distributed", "fit",
    "make_eval_step", "make_mesh", "make_train_step", "replicate", "replicated_sharding",
    "shard_batch", "workdir_lock",
]
