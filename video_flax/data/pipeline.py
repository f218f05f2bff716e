"""The grain input pipeline shared by every dataset.

Train: source -> shuffle -> repeat -> random_map(decode + augment) ->
slice by process -> batch. Everything is a grain MapDataset indexed by
position, so the stream is a pure function of (seed, position): identical
for the same seed, reshuffled every epoch (grain folds the epoch into the
shuffle seed), and the iterator state is one integer that `get_state` /
`set_state` (and orbax, through `checkpoint_save_args`) round-trip exactly.
Augmentation draws from grain's per-element generator, seeded by the
element's global position, so the union of all processes' batches at a step
is the single-process batch at that step, whatever the process count.

Eval: one pass over the split in order, every global batch full: process p
takes positions [k*B + p*b, k*B + (p+1)*b) of global batch k (B global, b
local), positions past the end repeat real clips with 'mask' 0 and 'index'
-1, so each clip counts exactly once over all processes.

Videos are float32, normalised by augment.normalize.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from typing import Any

from absl import flags
import grain
import grain.checkpoint
import ml_collections
import numpy as np

from video_flax.data import dataset_api
from video_flax.data import get_dataset

DatasetInfo = dataset_api.DatasetInfo

# In-process reading: threads and batches read ahead (a batch of paper-sized
# float32 clips is ~1 GB, so keep this small).
READ_THREADS = 2
PREFETCH_BATCHES = 2

_INT_FIELDS = {"num_frames": 1, "frame_stride": 1, "crop_size": 1,
               "worker_count": 0}
_STR_FIELDS = ("name", "variant", "data_dir", "train_split", "eval_split",
               "streams")


def check_config(cfg: ml_collections.ConfigDict) -> None:
  """Raises ValueError naming every missing or invalid `config.dataset` field."""
  problems = []
  for key in _STR_FIELDS:
    if key not in cfg:
      problems.append(f"dataset.{key} is missing")
    elif not isinstance(cfg[key], str):
      problems.append(f"dataset.{key}={cfg[key]!r} must be a string")
  for key, low in _INT_FIELDS.items():
    if key not in cfg:
      problems.append(f"dataset.{key} is missing")
    elif not isinstance(cfg[key], int) or cfg[key] < low:
      problems.append(f"dataset.{key}={cfg[key]!r} must be an integer >= {low}")
  if isinstance(cfg.get("streams"), str):
    try:
      dataset_api.stream_keys(cfg)
    except ValueError as e:
      problems.append(str(e))
  if problems:
    raise ValueError("Invalid dataset config:\n  " + "\n  ".join(problems))
  get_dataset(cfg.name)


def _local_batch_size(global_batch_size: int, process_index: int,
                      process_count: int) -> int:
  if process_count < 1 or not 0 <= process_index < process_count:
    raise ValueError(f"process_index={process_index} is not in "
                     f"[0, process_count={process_count})")
  if global_batch_size < 1 or global_batch_size % process_count:
    raise ValueError(f"global_batch_size={global_batch_size} must be >= 1 and "
                     f"divisible by process_count={process_count}")
  return global_batch_size // process_count


def _iterate(ds: grain.MapDataset, worker_count: int) -> grain.DatasetIterator:
  """Reads `ds` ahead in threads, or in `worker_count` processes when > 0."""
  if worker_count == 0:
    options = grain.ReadOptions(num_threads=READ_THREADS,
                                prefetch_buffer_size=PREFETCH_BATCHES)
    return iter(ds.to_iter_dataset(options))
  if not flags.FLAGS.is_parsed():
    # grain's workers read absl flags; outside an absl app none were parsed.
    flags.FLAGS.mark_as_parsed()
  options = grain.MultiprocessingOptions(num_workers=worker_count,
                                         per_worker_buffer_size=PREFETCH_BATCHES)
  return iter(ds.to_iter_dataset(grain.ReadOptions(num_threads=1))
              .mp_prefetch(options))


def dataset_info(cfg: ml_collections.ConfigDict) -> DatasetInfo:
  """Class names and split sizes of `cfg` (writes the dataset on first use)."""
  check_config(cfg)
  return get_dataset(cfg.name).info(cfg)


def make_train_iterator(cfg: ml_collections.ConfigDict, *,
                        global_batch_size: int, seed: int,
                        process_index: int = 0, process_count: int = 1
                        ) -> grain.DatasetIterator:
  """Infinite training batches of this process.

  Yields {'video': float32 [b, T, H, W, 3], 'label': int32 [b]} (plus any
  extra keys the dataset emits) with b = global_batch_size // process_count.
  Deterministic in `seed`; `get_state()`/`set_state()` resume exactly.
  """
  check_config(cfg)
  local = _local_batch_size(global_batch_size, process_index, process_count)
  if not 0 <= seed < 2**32:
    raise ValueError(f"seed={seed} must be in [0, 2**32)")
  dataset = get_dataset(cfg.name)
  source = dataset.source(cfg, cfg.train_split)
  if len(source) == 0:
    raise ValueError(f"{cfg.name}/{cfg.variant} split {cfg.train_split!r} is "
                     f"empty")
  ds = (grain.MapDataset.source(source).seed(seed).shuffle().repeat()
        .random_map(functools.partial(dataset.train_example, cfg))
        [process_index::process_count]
        .batch(local, drop_remainder=True))
  return _iterate(ds, cfg.worker_count)


def _eval_element(dataset: dataset_api.VideoDataset,
                  cfg: ml_collections.ConfigDict, source: Any,
                  global_batch_size: int, local: int, process_index: int,
                  i: int) -> dict[str, np.ndarray]:
  """Element i of this process's eval stream, with 'mask' and 'index'."""
  position = ((i // local) * global_batch_size + process_index * local
              + i % local)
  real = position < len(source)
  example = dataset.eval_example(cfg, source[position % len(source)])
  example["mask"] = np.float32(real)
  example["index"] = np.int32(position if real else -1)
  return example


def make_eval_iterator(cfg: ml_collections.ConfigDict, *,
                       split: str | None = None, global_batch_size: int,
                       process_index: int = 0, process_count: int = 1
                       ) -> Iterator[dict[str, np.ndarray]]:
  """One ordered pass over `split` (default cfg.eval_split), centre crops.

  Yields {'video': float32 [b, T, H, W, 3], 'label': int32 [b],
  'mask': float32 [b] (1 = real clip, 0 = padding), 'index': int32 [b]
  (position in the split, -1 for padding)}; every process yields
  ceil(N / global_batch_size) batches.
  """
  check_config(cfg)
  local = _local_batch_size(global_batch_size, process_index, process_count)
  split = cfg.eval_split if split is None else split
  dataset = get_dataset(cfg.name)
  # Multi-view datasets expand each video into several test views.
  source = getattr(dataset, "eval_source", dataset.source)(cfg, split)
  if len(source) == 0:
    raise ValueError(f"{cfg.name}/{cfg.variant} split {split!r} is empty")
  num_batches = math.ceil(len(source) / global_batch_size)
  ds = (grain.MapDataset.range(num_batches * local)
        .map(functools.partial(_eval_element, dataset, cfg, source,
                               global_batch_size, local, process_index))
        .batch(local))
  return _iterate(ds, cfg.worker_count)


def checkpoint_save_args(data_iter: grain.DatasetIterator
                         ) -> grain.checkpoint.CheckpointSave:
  """orbax args saving the iterator's position (JSON, one file per process)."""
  return grain.checkpoint.CheckpointSave(data_iter)


def checkpoint_restore_args(data_iter: grain.DatasetIterator
                            ) -> grain.checkpoint.CheckpointRestore:
  """orbax args restoring a saved position into `data_iter`, in place."""
  return grain.checkpoint.CheckpointRestore(data_iter)
