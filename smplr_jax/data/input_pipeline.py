r"""Image input pipeline: records -> augmented, batched, sharded examples.

Any random-access source works: an object with `__len__` and
`__getitem__(i) -> record`, e.g. a list of records or a `tfds.data_source`.
A record is a dict of numpy arrays following `smplr_jax.data.records`.

`make_iterator` yields batches (leading axis B) of the examples of
`augment.process_example` (crop `image` float32 [S, S, 3], `mask`,
`jl_cube`, `jl_crop`, `jl_cam`, `jl_valid`, `zoom`, the SMPL fields) plus
`valid` float32 [B] (0 on padding). It is a small thread-pool loader: numpy
releases the GIL in the per-example work, so threads scale without
processes. Batch k of a run is a deterministic function of (seed, k): epoch
e = k // batches_per_epoch is shuffled by `default_rng([seed, e, 2**32 - 1])`
and
example i of epoch e is augmented with the seed (seed, e, i), so the result
does not depend on the number of threads or the prefetch depth, and
`start_step=k` resumes exactly where a run stopped. In a multi-process run
each process reads only its share of every batch (`process_index` of
`process_count`: rows [p * B / P, (p + 1) * B / P) of the global batch k),
so over an epoch every record is read once, by one process; the trainer
assembles the shares into global arrays on the device mesh with
`smplr_jax.training.parallel.shard_batch`.

A record that cannot be read or breaks the record contract (bad image bytes,
a wrong shape) raises `CorruptRecordError` naming its file and index; with
`skip_corrupt` it is logged, counted and replaced by the next readable
record of the source instead.

`subsample_min_distance` is the paper's subsampling of training frames (every
kept pair at least 100 mm apart for some joint).
"""

from __future__ import annotations

import collections
import concurrent.futures
import threading
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

import ml_collections
import numpy as np
from absl import logging
from scipy import spatial

from smplr_jax.data import augment, records

# Appended to (seed, epoch) for the permutation (an example's seed is
# (seed, epoch, index)); seeds must be non-negative integers.
_SHUFFLE_STREAM = 2**32 - 1


class RandomAccessSource(Protocol):
  """What `make_iterator` reads: a list of records, a tfds data source..."""

  def __len__(self) -> int:
    ...

  def __getitem__(self, index: int) -> Mapping[str, Any]:
    ...


class CorruptRecordError(ValueError):
  """A record could not be read or does not follow the record contract."""


def describe_record(source: RandomAccessSource, index: int) -> str:
  """Where record `index` of `source` is stored, for messages: its file and
  position for a TFDS data source, else its index."""
  try:  # TFDS data sources: the split's files, in reading order
    instructions = source.dataset_info.splits[source.split].file_instructions
  except (AttributeError, KeyError, TypeError):
    instructions = None
  offset = 0
  for instruction in instructions or ():
    if index < offset + instruction.take:
      return (f'record {instruction.skip + index - offset} of '
              f'{instruction.filename} (index {index} of the source)')
    offset += instruction.take
  return f'record {index} of the source ({type(source).__name__})'


def read_record(source: RandomAccessSource, index: int) -> dict[str, Any]:
  """`source[index]`, checked against the record contract.

  Raises:
    CorruptRecordError: the record cannot be decoded or breaks the contract
      (`records.check_record`); the message names its file and index.
  """
  try:
    record = source[int(index)]
    records.check_record(record, describe_record(source, index))
  except CorruptRecordError:
    raise
  except Exception as error:  # decoders raise anything (PIL, protobuf...)
    where = describe_record(source, index)
    message = str(error)
    if not message.startswith(where):
      message = f'{where}: {type(error).__name__}: {message}'
    raise CorruptRecordError(
        f'{message}. Rebuild the dataset, or set '
        'config.data.skip_corrupt_records=True to skip such records.'
    ) from error
  return record


def epoch_order(num_records: int, seed: int, epoch: int,
                shuffle: bool = True) -> np.ndarray:
  """The source indices of one epoch, in reading order ([num_records])."""
  if not shuffle:
    return np.arange(num_records)
  rng = np.random.default_rng([seed, epoch, _SHUFFLE_STREAM])
  return rng.permutation(num_records)


def batch_plan(num_records: int, batch_size: int, seed: int, start_step: int,
               shuffle: bool, drop_remainder: bool, num_epochs: int | None,
               process_index: int = 0, process_count: int = 1):
  """Yields (epoch, indices [B / P], valid [B / P]) for batch start_step, ...

  Batch k holds the source indices `epoch_order(...)[j * B:(j + 1) * B]` of
  its epoch e, j = k mod batches per epoch (padded by repeating the last
  index, valid 0, in a non-dropping epoch's last batch); process p of P
  gets its rows [p * B / P, (p + 1) * B / P).

  Raises:
    ValueError: B not divisible by P, or fewer records than one batch when
      dropping the remainder.
  """
  if batch_size % process_count:
    raise ValueError(f'batch size {batch_size} is not divisible by the '
                     f'{process_count} processes.')
  share = batch_size // process_count
  rows = slice(process_index * share, (process_index + 1) * share)
  if drop_remainder:
    per_epoch = num_records // batch_size
    if per_epoch == 0:
      raise ValueError(f'the source has {num_records} records, fewer than one '
                       f'batch of {batch_size}; use drop_remainder=False.')
  else:
    per_epoch = -(-num_records // batch_size)
  step = start_step
  order, order_epoch = None, None
  while num_epochs is None or step < num_epochs * per_epoch:
    epoch, position = divmod(step, per_epoch)
    if epoch != order_epoch:
      order, order_epoch = epoch_order(num_records, seed, epoch, shuffle), epoch
    indices = order[position * batch_size:(position + 1) * batch_size]
    valid = np.ones(batch_size, np.float32)
    if len(indices) < batch_size:  # last batch of a non-dropping epoch
      valid[len(indices):] = 0.0
      indices = np.concatenate(
          [indices, np.full(batch_size - len(indices), indices[-1])])
    yield epoch, indices[rows], valid[rows]
    step += 1


def _collate(examples: list[dict[str, np.ndarray]],
             valid: np.ndarray) -> dict[str, np.ndarray]:
  batch = {k: np.stack([e[k] for e in examples]) for k in examples[0]}
  batch['valid'] = valid
  return batch


def make_iterator(source: RandomAccessSource,
                  config: ml_collections.ConfigDict, batch_size: int,
                  seed: int, *, train: bool = True, start_step: int = 0,
                  shuffle: bool = True, num_epochs: int | None = None,
                  drop_remainder: bool | None = None, num_threads: int = 2,
                  prefetch: int = 2,
                  backgrounds: augment.BackgroundSource = None,
                  process_index: int = 0, process_count: int = 1,
                  skip_corrupt: bool = False
                  ) -> Iterator[dict[str, np.ndarray]]:
  """Batches of processed examples from a random-access source.

  Args:
    source: `len(source)` records, `source[i]` -> record (module docstring).
    config: `augment_config()`-like crop and augmentation settings.
    batch_size: B, examples per (host) batch.
    seed: non-negative integer; seeds the shuffles and the augmentations.
    train: augment (per the config's switches); False = plain crops.
    start_step: index of the first batch to yield; batch k is the same
      whatever `start_step` was (resume).
    shuffle: a new seeded permutation of the source every epoch.
    num_epochs: stop after this many epochs; None = forever.
    drop_remainder: drop each epoch's partial last batch (default: `train`);
      otherwise it is padded by repeating its last example, `valid` = 0 there.
    num_threads: worker threads for the per-example work; 0 runs inline.
    prefetch: batches being prepared ahead of the one returned.
    backgrounds: background and occluder images (`augment.process_example`).
    process_index, process_count: this process reads rows
      [p * B / P, (p + 1) * B / P) of every batch (`batch_plan`).
    skip_corrupt: replace a corrupt record by the next readable one of the
      source (logged and counted) instead of raising.

  Yields:
    dict of numpy arrays with a leading [B / P] axis: the keys of
    `augment.process_example` and `valid` float32 [B / P].

  Raises:
    CorruptRecordError: a record that cannot be read (`read_record`), unless
      `skip_corrupt`.
  """
  if batch_size <= 0:
    raise ValueError(f'batch_size must be positive, got {batch_size}.')
  if drop_remainder is None:
    drop_remainder = train
  plan = batch_plan(len(source), batch_size, seed, start_step, shuffle,
                    drop_remainder, num_epochs, process_index, process_count)
  skipped = []  # indices replaced so far (appended from worker threads)
  lock = threading.Lock()

  def read(index: int) -> dict[str, Any]:
    if not skip_corrupt:
      return read_record(source, index)
    for offset in range(len(source)):
      try:
        return read_record(source, (index + offset) % len(source))
      except CorruptRecordError as error:
        with lock:
          skipped.append((index + offset) % len(source))
          count = len(skipped)
        logging.warning('Skipped a corrupt record (%d so far): %s', count,
                        error)
    raise CorruptRecordError(f'no record of the source could be read '
                             f'({len(source)} tried).')

  def work(epoch: int, index: int) -> dict[str, np.ndarray]:
    # The seed stays that of `index` when a stand-in replaces it.
    return augment.process_example(
        read(int(index)), config, (seed, epoch, int(index)), train=train,
        backgrounds=backgrounds)

  if num_threads <= 0:
    for epoch, indices, valid in plan:
      yield _collate([work(epoch, i) for i in indices], valid)
    return

  executor = concurrent.futures.ThreadPoolExecutor(
      num_threads, thread_name_prefix='input_pipeline')
  pending = collections.deque()
  try:
    for epoch, indices, valid in plan:
      pending.append(([executor.submit(work, epoch, i) for i in indices],
                      valid))
      if len(pending) > prefetch:
        futures, valid_ = pending.popleft()
        yield _collate([f.result() for f in futures], valid_)
    while pending:
      futures, valid_ = pending.popleft()
      yield _collate([f.result() for f in futures], valid_)
  finally:
    executor.shutdown(wait=True, cancel_futures=True)


def subsample_min_distance(jl: np.ndarray, min_distance: float = 0.1, *,
                           filter_dims: int = 6) -> np.ndarray:
  """Greedy subsampling: every kept pair differs by >= min_distance somewhere.

  Frames are visited in order; a frame is kept unless a kept frame lies
  within `min_distance` of it at every joint, i.e. unless
  `max_j ||jl[a, j] - jl[b, j]|| < min_distance` for a kept b. So every pair
  of kept frames is at least `min_distance` apart for at least one joint (the
  paper's "every pair at least 100 mm apart per joint", as the authors'
  greedy selection reads it), and every dropped frame is within it of a kept
  one at all joints.

  Efficient: two frames that are that close are within `min_distance` in
  every coordinate, so a KD-tree over the `filter_dims` coordinates of
  largest variance, queried with the Chebyshev (p = inf) radius, returns a
  superset of the close frames; the exact test is then vectorised over those
  candidates. Only kept frames are queried: each suppresses its close
  successors, which is the same selection as comparing every frame with all
  kept predecessors. Memory is O(N); time is one tree query per kept frame
  plus the exact tests of its candidates.

  Args:
    jl: [N, J, 3] points per frame (e.g. root-relative joints, metres).
    min_distance: the distance (same unit as `jl`; 0.1 m = 100 mm).
    filter_dims: coordinates used by the tree (more: fewer false candidates,
      slower queries).

  Returns:
    int64 [M] indices of the kept frames, increasing.
  """
  jl = np.asarray(jl)
  if jl.ndim != 3 or jl.shape[-1] != 3:
    raise ValueError(f'jl must be [N, J, 3], got {jl.shape}.')
  num_frames = jl.shape[0]
  if num_frames == 0:
    return np.zeros(0, np.int64)
  points = jl.astype(np.float64)
  flat = points.reshape(num_frames, -1)
  order = np.argsort(-flat.var(axis=0))[:max(1, filter_dims)]
  keys = np.ascontiguousarray(flat[:, order])
  tree = spatial.cKDTree(keys)
  squared = min_distance ** 2
  suppressed = np.zeros(num_frames, bool)
  kept = []
  for i in range(num_frames):
    if suppressed[i]:
      continue
    kept.append(i)
    candidates = np.asarray(
        tree.query_ball_point(keys[i], min_distance, p=np.inf), np.int64)
    candidates = candidates[candidates > i]
    if candidates.size:
      d2 = np.sum((points[candidates] - points[i]) ** 2, axis=-1)
      suppressed[candidates[d2.max(axis=1) < squared]] = True
  return np.asarray(kept, np.int64)
