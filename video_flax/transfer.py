"""Transfer stages: pretrain, scratch, fixed (frozen backbone), finetune.

The stage is config (`config.transfer.stage`), never a forked trainer:
`stage(name)` returns what a stage means (the `Stage` table below) and
validation, the optimizer and the trainer ask it. Weights of
another run enter through one merge function (`merge_variables`) that fails
listing every missing, unexpected or mis-shaped parameter, except for the
classifier (`head`), which is re-initialised when its shape differs.
"""
from __future__ import annotations

import dataclasses
import os
import pathlib
from typing import Any, Literal, Mapping

import jax
import numpy as np
import orbax.checkpoint as ocp

from video_flax import checkpoint_integrity
from video_flax import checkpointing
from video_flax import inflation
from video_flax import variable_trees
from video_flax import weights

HEAD = "head"


@dataclasses.dataclass(frozen=True)
class Stage:
  """What one transfer stage means.

  Attributes:
    name: the value of `config.transfer.stage`.
    init_from: 'required', 'optional' or 'forbidden': whether the stage
      starts from another run's weights (`transfer.init_from`).
    trains_bn: False runs the model in inference mode while training (BN
      uses and keeps its running statistics, dropout is off).
    frozen_backbone: only the classifier (`head`) parameters move.
    backbone_lr_multiplier: `transfer.backbone_lr_multiplier` scales the
      backbone's learning rate; other stages reject a value other than 1.
    precise_bn: BN statistics are recomputed before evaluation (when
      `eval.precise_bn_batches` > 0).
  """
  name: str
  init_from: Literal["required", "optional", "forbidden"]
  trains_bn: bool = True
  frozen_backbone: bool = False
  backbone_lr_multiplier: bool = False
  precise_bn: bool = True


STAGES: dict[str, Stage] = {s.name: s for s in (
    Stage("pretrain", init_from="optional"),
    Stage("scratch", init_from="forbidden"),
    Stage("fixed", init_from="required", trains_bn=False,
          frozen_backbone=True, precise_bn=False),
    Stage("finetune", init_from="required", backbone_lr_multiplier=True),
)}


def stage(name: str) -> Stage:
  """The `Stage` called `name`; unknown names fail listing the known ones."""
  if name not in STAGES:
    raise ValueError(f"transfer.stage={name!r}; known: {tuple(STAGES)}")
  return STAGES[name]


def is_head(path: tuple[str, ...] | str) -> bool:
  """True for parameters of a classifier: any path component named `head`."""
  parts = path.split("/") if isinstance(path, str) else path
  return HEAD in parts


def head_labels(params: Any) -> Any:
  """'head' / 'backbone' for every leaf (labels for optax.multi_transform)."""
  flat = variable_trees.flatten(params)
  return variable_trees.unflatten(
      {k: HEAD if is_head(k) else "backbone" for k in flat})


def _checkpoint_location(init_from: str) -> tuple[str, int | None]:
  """(checkpoints dir, step or None = latest) from a workdir, a checkpoints
  dir or one step's dir."""
  path = os.path.abspath(init_from)
  if os.path.isdir(os.path.join(path, "checkpoints")):
    return os.path.join(path, "checkpoints"), None
  base = os.path.basename(path)
  if base.isdigit() and os.path.isdir(os.path.join(path, checkpointing.STATE)):
    return os.path.dirname(path), int(base)
  if os.path.isdir(path):
    return path, None
  raise FileNotFoundError(
      f"transfer.init_from={init_from!r}: no such workdir or checkpoint")


def _single_device_target(state_dir: str) -> Any:
  """The saved state's shapes and dtypes, every array placed whole on this
  process's first device: restores whatever device count, mesh or process
  count wrote it (the saved shardings name devices that may not exist
  here, and orbax then refuses a restore without a target)."""
  device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
  metadata = ocp.StandardCheckpointHandler().metadata(pathlib.Path(state_dir))
  return jax.tree.map(
      lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device),
      metadata.tree)


def verify_checkpoint(init_from: str) -> None:
  """Checks the checksum manifest (checkpoint_integrity.py) of the step
  `init_from` names (a workdir or checkpoints dir: its latest step);
  CheckpointError naming the step directory and the first bad file."""
  directory, step = _checkpoint_location(init_from)
  if step is None:
    steps = [int(d) for d in os.listdir(directory)
             if d.isdigit() and os.path.isdir(os.path.join(directory, d))]
    if not steps:
      return  # load_variables says there is no checkpoint
    step = max(steps)
  step_dir = os.path.join(directory, str(step))
  why = checkpoint_integrity.problem(step_dir)
  if why is not None:
    raise checkpointing.CheckpointError(
        f"transfer.init_from={init_from!r}: checkpoint {step_dir} is "
        f"unusable: {why}; point transfer.init_from at an intact step's "
        "directory (<workdir>/checkpoints/<step>)")


def load_variables(init_from: str) -> dict[str, Any]:
  """{'params', 'batch_stats'} (host numpy) of another run's checkpoint or
  of a converted-weights directory (video_flax/weights), each verified
  against the checksums recorded when it was written."""
  if weights.is_weights_dir(init_from):
    return weights.read_variables(init_from)
  verify_checkpoint(init_from)
  directory, step = _checkpoint_location(init_from)
  manager = ocp.CheckpointManager(directory, item_names=(
      checkpointing.STATE, checkpointing.DATA_ITER))
  step = manager.latest_step() if step is None else step
  if step is None:
    raise FileNotFoundError(
        f"transfer.init_from={init_from!r}: no checkpoint in {directory}")
  target = _single_device_target(
      os.path.join(checkpointing.step_dir(manager, step), checkpointing.STATE))
  restored = manager.restore(step, args=ocp.args.Composite(
      **{checkpointing.STATE: ocp.args.StandardRestore(target)}))
  state = restored[checkpointing.STATE]
  print(f"Loaded step {step} of {directory}", flush=True)
  return jax.tree.map(np.asarray, {"params": state["params"],
                                   "batch_stats": state["batch_stats"]})


def merge_variables(target: Mapping[str, Any], source: Mapping[str, Any]
                    ) -> dict[str, Any]:
  """Takes every leaf of `target` from `source`, by path.

  Args:
    target: freshly initialised variables of the new model (concrete).
    source: loaded variables with the same paths.
  Returns:
    the merged tree; `head` leaves keep their new initialisation when
    missing from `source` or shaped differently (one log line lists them).
  Raises:
    ValueError listing every missing, unexpected and mis-shaped non-head
    path with both shapes.
  """
  src, tgt = variable_trees.flatten(source), variable_trees.flatten(target)
  merged, reinit, missing, misshaped = {}, [], [], []
  for path, leaf in tgt.items():
    value = src.get(path)
    if value is not None and np.shape(value) == np.shape(leaf):
      merged[path] = np.asarray(value, dtype=np.asarray(leaf).dtype)
    elif is_head(path):
      merged[path] = leaf
      reinit.append(f"{path} {np.shape(leaf)}")
    elif value is None:
      missing.append(f"{path} {np.shape(leaf)}")
    else:
      misshaped.append(f"{path}: checkpoint {np.shape(value)} vs model "
                       f"{np.shape(leaf)}")
  unexpected = [f"{p} {np.shape(v)}" for p, v in src.items()
                if p not in tgt and not is_head(p)]
  variable_trees.raise_if_mismatched(
      "Cannot initialise from the checkpoint: parameters do not match.",
      "checkpoint", missing=missing, unexpected=unexpected,
      misshaped=misshaped)
  if reinit:
    print(f"Re-initialised the classifier: {', '.join(reinit)}", flush=True)
  return variable_trees.unflatten(merged)


def initial_variables(transfer_cfg: Any, target: Mapping[str, Any]
                      ) -> dict[str, Any]:
  """The variables a stage starts from: `target` merged with (optionally
  inflated) weights of `transfer_cfg.init_from`."""
  source = load_variables(transfer_cfg.init_from)
  if transfer_cfg.inflate_2d:
    source = inflation.inflate_variables(
        source, target, exclude=("params/*head*", "batch_stats/*head*"))
  return merge_variables(target, source)
