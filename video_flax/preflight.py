"""Checks run before any training, so a run that cannot work says why in one
line and leaves no empty workdir behind.

`check_data` opens the dataset the config names (a prepared folder's
info.json, its splits, folds, streams and clip sampling; a synthetic
variant) and builds the device mesh; `check_workdir` creates the workdir and
writes a probe file into it; `check_free_space` compares the free space
with what the checkpoints of the created train state will take.
"""
from __future__ import annotations

import os
import shutil
from typing import Any

import jax
import ml_collections

from video_flax import errors
from video_flax import sharding
from video_flax.data import get_dataset
from video_flax.data import pipeline

_MIB = 2**20
# Margin over the checkpoints' raw bytes (metadata, TensorBoard, results).
_SPACE_MARGIN = 1.2
_PROBE_BYTES = _MIB


def check_data(config: ml_collections.ConfigDict) -> pipeline.DatasetInfo:
  """Opens the dataset and the mesh of `config`; UsageError names a problem."""
  try:
    info = pipeline.dataset_info(config.dataset)
    for split in (config.dataset.train_split, config.dataset.eval_split):
      get_dataset(config.dataset.name).source(config.dataset, split)
    sharding.make_mesh(config.mesh)
  except (ValueError, OSError, KeyError) as e:
    raise errors.UsageError(errors.joined(e)) from e
  return info


def check_workdir(workdir: str) -> None:
  """Creates `workdir` and writes a probe file; UsageError if it cannot.

  A workdir this call created is removed again when the probe fails.
  """
  existed = os.path.isdir(workdir)
  try:
    os.makedirs(workdir, exist_ok=True)
  except OSError as e:
    raise errors.UsageError(
        f"workdir {workdir} cannot be created: {e.strerror}") from e
  probe = os.path.join(workdir, f".write_probe.{os.getpid()}")
  try:
    with open(probe, "wb") as f:
      f.write(b"\0" * _PROBE_BYTES)
      f.flush()
      os.fsync(f.fileno())
  except OSError as e:
    if not existed:
      shutil.rmtree(workdir, ignore_errors=True)
    raise errors.UsageError(
        f"workdir {workdir} is not writable: {e.strerror}") from e
  finally:
    if os.path.exists(probe):
      os.remove(probe)


def state_bytes(state: Any) -> int:
  """Bytes of every array leaf of `state` (one checkpoint's payload)."""
  return sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(state)
             if hasattr(x, "dtype"))


def check_free_space(workdir: str, state: Any, keep_checkpoints: int) -> None:
  """UsageError when the workdir's disk cannot hold keep_checkpoints + 1
  checkpoints of `state` (the kept ones and the one being written)."""
  needed = int(state_bytes(state) * (keep_checkpoints + 1) * _SPACE_MARGIN)
  free = shutil.disk_usage(workdir).free
  if free < needed:
    raise errors.UsageError(
        f"workdir {workdir} has {free / _MIB:.1f} MiB free, but "
        f"{keep_checkpoints + 1} checkpoints of this model (keep_checkpoints="
        f"{keep_checkpoints}, plus the one being written) need about "
        f"{needed / _MIB:.1f} MiB; free space or choose another --workdir")
