"""Checkpoints: the train state and the data iterator's state, saved together.

orbax's CheckpointManager writes each step to a temporary directory and
renames it when complete, so a crash mid-save never leaves a checkpoint that
looks finished. The grain iterator state goes beside the train state, so a
resumed run continues on the next batch, not on the first one.
"""
from __future__ import annotations

import os
from typing import Any

import grain
import grain.checkpoint  # noqa: F401  (registers grain's orbax handler)
import jax
import orbax.checkpoint as ocp

STATE, DATA_ITER = "state", "data_iter"


def checkpoint_dir(workdir: str) -> str:
  return os.path.join(os.path.abspath(workdir), "checkpoints")


def make_manager(workdir: str, keep: int) -> ocp.CheckpointManager:
  """A manager over `<workdir>/checkpoints` keeping the last `keep` steps."""
  options = ocp.CheckpointManagerOptions(
      max_to_keep=keep, create=True, enable_async_checkpointing=False)
  return ocp.CheckpointManager(checkpoint_dir(workdir), options=options,
                               item_names=(STATE, DATA_ITER))


def save(manager: ocp.CheckpointManager, step: int, state: Any,
         data_iter: grain.DatasetIterator | None) -> None:
  """Saves `state` (and the iterator, when given) as checkpoint `step`."""
  items = {STATE: ocp.args.StandardSave(state)}
  if data_iter is not None:
    items[DATA_ITER] = grain.checkpoint.CheckpointSave(data_iter)
  manager.save(step, args=ocp.args.Composite(**items), force=True)
  manager.wait_until_finished()


def restore(manager: ocp.CheckpointManager, abstract_state: Any,
            data_iter: grain.DatasetIterator | None, step: int | None = None
            ) -> Any:
  """Restores the latest (or given) step into the shapes and shardings of
  `abstract_state`; `data_iter` is set to its saved position in place."""
  step = manager.latest_step() if step is None else step
  items = {STATE: ocp.args.StandardRestore(abstract_state)}
  if data_iter is not None:
    items[DATA_ITER] = grain.checkpoint.CheckpointRestore(data_iter)
  restored = manager.restore(step, args=ocp.args.Composite(**items))
  return restored[STATE]


def abstract_like(state: Any) -> Any:
  """ShapeDtypeStructs (with shardings) describing `state`."""
  return jax.tree.map(
      lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding),
      state)
