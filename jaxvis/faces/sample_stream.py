"""Training batches of one MTCNN stage streamed from annotation records (grain).

records (WIDER and/or CelebA, paths + boxes only) -> this process's slice ->
shuffle per epoch -> decode and mine one image (`training_data.mine_record`,
a generator seeded per record and epoch) -> one element per sample ->
shuffle within a window of samples -> fixed-size batches.

Memory is bounded by the window (`shuffle_window` samples) and the images mined
ahead (grain's prefetch: 16 threads, up to 500 images' samples), whatever the
dataset size. The iterator is a `grain.DatasetIterator`; `jaxvis.train.fit`
stores its state in each checkpoint, and a resumed run sees exactly the batches
the killed one would have seen (the window is refilled from its saved start).

No cap changes the sample distribution: every sample an image yields is used.
"""

from __future__ import annotations

from typing import Sequence

import grain
import grain.experimental as gx
import jax
import numpy as np

from jaxvis.data import pipeline
from jaxvis.errors import InputError
from jaxvis.faces import mining, training_data

LABEL_NAMES = {mining.POSITIVE: "positive", mining.NEGATIVE: "negative", mining.PART: "part",
               mining.LANDMARK: "landmark"}


class _RecordSource:
  """Random access to the annotation records (small: paths and boxes)."""

  def __init__(self, records: Sequence):
    self._records = list(records)

  def __len__(self) -> int:
    return len(self._records)

  def __getitem__(self, index: int):
    return self._records[index]


class _Rows(gx.FlatMapTransform):
  """A dict of equally long arrays -> one dict per row (all of them: grain's iterator
  flat map buffers what `flat_map` returns and never reads `max_fan_out`)."""

  max_fan_out = 1 << 20

  def flat_map(self, arrays: dict):
    n = len(next(iter(arrays.values())))
    return [{k: v[i] for k, v in arrays.items()} for i in range(n)]


def sample_stream(records: Sequence, cfg: training_data.MiningConfig, batch_size: int, seed: int = 0,
                  params=None, shuffle_window: int = 4096, num_epochs: int | None = None,
                  process_index: int | None = None, process_count: int | None = None,
                  ) -> grain.DatasetIterator:
  """A checkpointable iterator of training batches (dicts of numpy arrays) of `cfg.stage`.

  Args:
    records: `wider.WiderRecord`s and/or `celeba.CelebaRecord`s (L-Net: CelebA only).
    cfg: how each image is mined (`training_data.MiningConfig`; `flip` for augmentation).
    batch_size: the GLOBAL batch size; each process yields batch_size / process_count.
    seed: record order, mining randomness, window shuffling.
    params: the earlier stages' parameters (R/O-Net mining).
    shuffle_window: samples shuffled together (memory: window x sample size).
    num_epochs: None repeats forever.
  """
  if not len(records):
    raise InputError("records", "no annotated images to mine training samples from")
  if shuffle_window < 1:
    raise InputError("shuffle_window", f"expected >= 1, got {shuffle_window}")
  count = jax.process_count() if process_count is None else process_count
  if batch_size <= 0 or batch_size % count:
    raise InputError("batch_size", f"expected a positive multiple of the {count} process(es), got {batch_size}")
  ds = grain.MapDataset.source(_RecordSource(records)).seed(seed)
  ds = pipeline.process_slice(ds, process_index, count)
  ds = ds.shuffle()
  if num_epochs != 1:
    ds = ds.repeat(num_epochs)
  ds = ds.random_map(lambda record, rng: training_data.mine_record(record, cfg, rng, params))
  it = ds.to_iter_dataset()
  it = gx.FlatMapIterDataset(it, _Rows())
  it = gx.WindowShuffleIterDataset(it, window_size=shuffle_window, seed=seed)
  it = it.batch(batch_size // count, drop_remainder=True)
  return iter(it)


class LabelCounter:
  """Wraps a batch iterator, counting the sample labels it hands out (state passes through)."""

  def __init__(self, it):
    self._it = it
    self.counts = {name: 0 for name in LABEL_NAMES.values()}

  def __iter__(self):
    return self

  def __next__(self):
    batch = next(self._it)
    if "label" in batch:
      labels = np.asarray(batch["label"])
      for value, name in LABEL_NAMES.items():
        self.counts[name] += int(np.sum(labels == value))
    else:
      self.counts["landmark"] += len(batch["target"])
    return batch

  def get_state(self):
    return self._it.get_state()

  def set_state(self, state):
    self._it.set_state(state)
