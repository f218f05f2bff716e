"""The cells of a transfer study and the trainer config of each.

A cell is one training run: an architecture pretrained on the study's
pretrain set, or trained on a target (one fold of it) in one stage. Its
config is the study's `trainer` config with only the architecture, the
dataset, the stage and the stage's schedule changed (see
configs/transfer_study.py for the study fields).
"""
from __future__ import annotations

import dataclasses
import os

import ml_collections

from video_flax import config_validation

TARGET_STAGES = ("scratch", "fixed", "finetune")
PRETRAIN = "pretrain"
# Datasets with official train/test folds (config.dataset.fold).
FOLD_DATASETS = {"ucf101": (1, 2, 3), "hmdb51": (1, 2, 3)}


@dataclasses.dataclass(frozen=True)
class Cell:
  """One run: `target` is the dataset key ('pretrain' for the pretraining
  run), `fold` None for datasets without folds."""
  arch: str
  target: str
  stage: str
  fold: int | None = None

  @property
  def relative_dir(self) -> str:
    """<arch>/pretrain or <arch>/<target>/<stage>[/fold<k>]."""
    if self.stage == PRETRAIN:
      return os.path.join(self.arch, PRETRAIN)
    parts = [self.arch, self.target, self.stage]
    if self.fold is not None:
      parts.append(f"fold{self.fold}")
    return os.path.join(*parts)

  def workdir(self, out: str) -> str:
    return os.path.join(out, self.relative_dir)


def check_study(study: ml_collections.ConfigDict) -> None:
  """Raises ConfigError naming every study field that does not resolve."""
  problems = []
  for arch in study.architectures:
    if arch not in study.models:
      problems.append(f"architectures: {arch!r} is not a key of models "
                      f"({', '.join(study.models)})")
  for key in (*study.targets, study.pretrain_dataset):
    if key not in study.datasets:
      problems.append(f"dataset {key!r} (targets / pretrain_dataset) is not "
                      f"a key of datasets ({', '.join(study.datasets)})")
  for stage in study.stages:
    if stage not in TARGET_STAGES:
      problems.append(f"stages: {stage!r}; known: {TARGET_STAGES}")
  for stage in (PRETRAIN, *study.stages):
    if stage not in study.schedules:
      problems.append(f"schedules.{stage} is missing")
  for key, data in study.datasets.items():
    known = FOLD_DATASETS.get(data.name, ())
    if any(fold not in known for fold in data.folds):
      problems.append(f"datasets.{key}.folds={tuple(data.folds)}: "
                      f"{data.name} has folds {known or '()'}")
  if study.pretrain_dataset in study.datasets and \
      study.datasets[study.pretrain_dataset].folds:
    problems.append(f"datasets.{study.pretrain_dataset}.folds must be () "
                    "(pretraining runs once)")
  if not study.architectures or not study.targets or not study.stages:
    problems.append("architectures, targets and stages must not be empty")
  if problems:
    raise config_validation.ConfigError(
        "Invalid transfer study config:\n  " + "\n  ".join(problems))


def plan_cells(study: ml_collections.ConfigDict) -> list[Cell]:
  """Every run in order: per architecture, pretraining first, then each
  target x fold x stage."""
  check_study(study)
  cells = []
  for arch in study.architectures:
    cells.append(Cell(arch, PRETRAIN, PRETRAIN))
    for target in study.targets:
      folds = tuple(study.datasets[target].folds) or (None,)
      cells.extend(Cell(arch, target, stage, fold)
                   for fold in folds for stage in study.stages)
  return cells


def cell_config(study: ml_collections.ConfigDict, cell: Cell, out: str
                ) -> ml_collections.ConfigDict:
  """The full trainer config of `cell` (validated); fixed and finetune
  start from the architecture's pretraining workdir under `out`."""
  config = ml_collections.ConfigDict(study.trainer.to_dict())
  arch = study.models[cell.arch]
  config.model.name = arch.model_name
  config.model.dropout_rate = arch.dropout_rate
  for key in ("num_frames", "frame_stride", "crop_size", "clip_sampling",
              "scale_jitter"):
    config.dataset[key] = arch[key]

  data = study.datasets[
      study.pretrain_dataset if cell.stage == PRETRAIN else cell.target]
  for key in ("name", "variant", "data_dir", "train_split", "eval_split"):
    config.dataset[key] = data[key]
  if cell.fold is not None:
    config.dataset.fold = cell.fold

  schedule = study.schedules[cell.stage]
  config.train.num_steps = schedule.num_steps
  config.train.learning_rate = schedule.learning_rate
  config.train.warmup_steps = schedule.warmup_steps
  config.transfer.stage = cell.stage
  config.transfer.backbone_lr_multiplier = schedule.backbone_lr_multiplier
  config.transfer.init_from = (
      Cell(cell.arch, PRETRAIN, PRETRAIN).workdir(out)
      if cell.stage in ("fixed", "finetune") else "")
  config.lock()
  try:
    config_validation.validate(config)
  except config_validation.ConfigError as e:
    raise config_validation.ConfigError(
        f"Cell {cell.relative_dir}: {e}") from None
  return config
