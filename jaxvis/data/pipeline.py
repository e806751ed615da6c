"""grain input pipelines: source -> per-process slice -> shuffle -> map -> batch -> iterator.

The iterator is a `grain.DatasetIterator`: `get_state()` returns a small JSON-able
dict that `jaxvis.train.Checkpointer` stores beside the model, so a resumed run
sees exactly the batches the killed one would have seen next.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import grain
import jax
import numpy as np


class ArraySource:
  """A random-access grain source over a dict of equally long numpy arrays.

  `source[i]` is `{key: array[i]}`.
  """

  def __init__(self, arrays: Mapping[str, Any]):
    if not arrays:
      raise ValueError("arrays: expected a non-empty dict of arrays")
    self._arrays = {k: np.asarray(v) for k, v in arrays.items()}
    lengths = {k: len(v) for k, v in self._arrays.items()}
    if len(set(lengths.values())) != 1:
      raise ValueError(f"arrays: all arrays must have the same length, got {lengths}")
    self._len = next(iter(lengths.values()))

  def __len__(self) -> int:
    return self._len

  def __getitem__(self, index: int) -> dict:
    return {k: v[index] for k, v in self._arrays.items()}


def process_slice(dataset: grain.MapDataset, index: int | None = None,
                  count: int | None = None) -> grain.MapDataset:
  """This process's share of `dataset` (every `count`-th record from `index`)."""
  index = jax.process_index() if index is None else index
  count = jax.process_count() if count is None else count
  if count == 1:
    return dataset
  return dataset[index::count]


def loader(source, batch_size: int, seed: int = 0, map_fn: Callable | None = None,
           shuffle: bool = True, num_epochs: int | None = None, drop_remainder: bool = True,
           process_index: int | None = None, process_count: int | None = None,
           worker_count: int = 0, worker_buffer_size: int = 1, prefetch_batches: int = 4,
           ) -> grain.DatasetIterator:
  """A checkpointable iterator of numpy batches for this process.

  Args:
    source: any random-access source (`__len__`, `__getitem__`), e.g. `ArraySource`
      or `tfds.data_source(...)`.
    batch_size: the GLOBAL batch size; each process yields batch_size / process_count.
    seed: shuffling and `map_fn` randomness seed (shuffled anew each epoch).
    map_fn: per-record transform `record -> record`, or `(record, np.random.Generator) -> record`
      if it takes two arguments (a generator seeded per record, so resumption is exact).
    shuffle: shuffle records (per epoch).
    num_epochs: None repeats forever.
    drop_remainder: drop the last incomplete batch of the dataset.
    worker_count: decode, map and batch in this many worker processes (grain `mp_prefetch`,
      spawned: `source` and `map_fn` must pickle, and should not run JAX); 0 = in this process.
      Each worker makes every worker_count-th batch, and the iterator interleaves them back, so
      the batches are the same as with 0 workers. A checkpointed iterator state resumes only
      with the same worker count. Close the iterator (`.close()`) to stop the workers early.
    worker_buffer_size: batches each worker prepares ahead.
    prefetch_batches: batches decoded ahead by a thread pool of as many threads (in this
      process, or in each worker). grain's default (500 elements, 16 threads) is sized for
      records; here an element is a whole batch, and 500 batches of 16 float32 128x128 images
      held 1.6 GB per process.
  """
  count = jax.process_count() if process_count is None else process_count
  if batch_size <= 0 or batch_size % count:
    raise ValueError(f"batch_size: expected a positive multiple of the {count} process(es), "
                     f"got {batch_size}")
  if len(source) == 0:
    raise ValueError("source: is empty")
  ds = grain.MapDataset.source(source).seed(seed)
  ds = process_slice(ds, process_index, count)
  if shuffle:
    ds = ds.shuffle()
  if num_epochs != 1:
    ds = ds.repeat(num_epochs)
  if map_fn is not None:
    ds = ds.random_map(map_fn) if _takes_rng(map_fn) else ds.map(map_fn)
  ds = ds.batch(batch_size // count, drop_remainder=drop_remainder)
  if worker_count < 0 or worker_buffer_size < 1 or prefetch_batches < 1:
    raise ValueError(f"worker_count: expected >= 0 (and worker_buffer_size, prefetch_batches >= 1), got "
                     f"{worker_count} ({worker_buffer_size}, {prefetch_batches})")
  it_ds = ds.to_iter_dataset(grain.ReadOptions(num_threads=prefetch_batches, prefetch_buffer_size=prefetch_batches))
  if worker_count:
    _absl_flags_parsed()
    it_ds = it_ds.mp_prefetch(grain.MultiprocessingOptions(num_workers=worker_count,
                                                           per_worker_buffer_size=worker_buffer_size))
  return iter(it_ds)


def _absl_flags_parsed() -> None:
  """grain's worker processes read absl flags; outside `absl.app.run` nobody parsed them."""
  from absl import flags
  if not flags.FLAGS.is_parsed():
    flags.FLAGS.mark_as_parsed()


def _takes_rng(fn: Callable) -> bool:
  import inspect
  try:
    params = [p for p in inspect.signature(fn).parameters.values()
              if p.default is inspect.Parameter.empty and p.kind in
              (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
  except (TypeError, ValueError):
    return False
  return len(params) >= 2
