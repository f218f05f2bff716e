"""Checkpoints: the train state and the data iterator's state, saved together.

orbax's CheckpointManager writes each step to a temporary directory and
renames it when complete, so a crash mid-save never leaves a checkpoint that
looks finished. The grain iterator state goes beside the train state, so a
resumed run continues on the next batch, not on the first one.

Every saved step also gets a checksum manifest (checkpoint_integrity.py).
`restore_latest` verifies it and falls back to the newest step that is
intact, moving the unusable newer ones to `<workdir>/unusable_checkpoints/`;
when no step is usable it raises CheckpointError and moves nothing.
"""
from __future__ import annotations

import os
import shutil
import time
from typing import Any

import grain
import grain.checkpoint  # noqa: F401  (registers grain's orbax handler)
import jax
import orbax.checkpoint as ocp

from video_flax import checkpoint_integrity
from video_flax import errors

STATE, DATA_ITER = "state", "data_iter"
UNUSABLE_DIR = "unusable_checkpoints"


class CheckpointError(RuntimeError):
  """No checkpoint in the workdir can be restored."""


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
  if jax.process_index() == 0:
    checkpoint_integrity.write_manifest(step_dir(manager, step))


def step_dir(manager: ocp.CheckpointManager, step: int) -> str:
  return os.path.join(str(manager.directory), str(step))


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


def _set_aside(manager: ocp.CheckpointManager, steps: list[int]) -> None:
  """Moves unusable step directories next to the checkpoints (kept, not
  deleted) so that new saves of those steps can happen."""
  aside = os.path.join(os.path.dirname(str(manager.directory)), UNUSABLE_DIR)
  os.makedirs(aside, exist_ok=True)
  for step in steps:
    target = os.path.join(aside, f"{step}-{time.strftime('%Y%m%dT%H%M%S')}")
    shutil.move(step_dir(manager, step), target)
    print(f"Moved unusable checkpoint {step} to {target}", flush=True)
  manager.reload()


def restore_latest(manager: ocp.CheckpointManager, abstract_state: Any,
                   data_iter: grain.DatasetIterator | None) -> Any | None:
  """The newest checkpoint that verifies and restores, or None if there is
  none at all; each unusable one is named. CheckpointError when there are
  checkpoints but none is usable (then nothing is moved or deleted)."""
  bad: list[tuple[int, str]] = []
  for step in sorted(manager.all_steps(), reverse=True):
    why = checkpoint_integrity.problem(step_dir(manager, step))
    if why is None:
      try:
        state = restore(manager, abstract_state, data_iter, step)
      except Exception as e:  # pylint: disable=broad-except
        why = f"restoring it failed: {errors.one_line(e)}"
      else:
        if bad:
          print(f"Falling back to checkpoint {step}", flush=True)
          _set_aside(manager, [s for s, _ in bad])
        return state
    print(f"Checkpoint {step_dir(manager, step)} is unusable: {why}",
          flush=True)
    bad.append((step, why))
  if bad:
    raise CheckpointError(
        f"no usable checkpoint in {manager.directory} ("
        + "; ".join(f"step {s}: {w}" for s, w in bad) + "); nothing was "
        "deleted: restore the files, or move that folder away to start over")
  return None
