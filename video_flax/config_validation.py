"""Checks a config before any compute; every problem is named in one error.

`config_flags` (with lock_config) already rejects unknown keys and values
of the wrong type; this module rejects values that parse but cannot work.
"""
from __future__ import annotations

import jax
import ml_collections

from video_flax import base_config
from video_flax import models
from video_flax import optim
from video_flax import sharding
from video_flax import transfer
from video_flax.data import DATASETS
from video_flax.data import dataset_api
from video_flax.data.synthetic import dataset as synthetic_dataset

DTYPES = ("float32", "bfloat16", "float16")


class ConfigError(ValueError):
  """A config value that cannot work; the message lists every such value."""


def _check_model(config: ml_collections.ConfigDict) -> list[str]:
  name = config.model.name
  if name not in models.MODELS:
    return [f"model.name={name!r} is not a registered model; known: "
            f"{', '.join(sorted(models.MODELS))}"]
  if config.model.get("dtype", "float32") not in DTYPES:
    return [f"model.dtype={config.model.dtype!r}; known: {DTYPES}"]
  try:
    models.from_config(config.model, num_classes=2)
  except TypeError as e:
    fields = sorted(k for k in config.model if k not in ("name", "dtype"))
    return [f"model fields {fields} do not fit {name!r}: {e}"]
  return []


def _check_inputs(config: ml_collections.ConfigDict) -> list[str]:
  """The model's input keys must be what its dataset emits."""
  name, dataset = config.model.name, config.dataset
  if name not in models.MODELS or dataset.name not in DATASETS:
    return []  # already reported
  try:
    emitted = dataset_api.stream_keys(dataset)
  except ValueError as e:
    return [str(e)]
  wanted = models.MODELS[name].input_keys
  if set(wanted) != set(emitted):
    fix = "".join(f"set dataset.streams={k!r} or "
                  for k, v in dataset_api.STREAMS.items()
                  if set(v) == set(wanted))
    return [f"model {name!r} reads {wanted} but dataset.streams="
            f"{dataset.streams!r} gives {emitted}; {fix}choose a model that "
            f"reads {emitted}"]
  return []


def _check_synthetic(dataset: ml_collections.ConfigDict) -> list[str]:
  """Real-data-only keys set on the synthetic set (which would ignore them)."""
  if dataset.name != "synthetic":
    return []
  defaults = base_config.get_base_config().dataset
  return [f"dataset.{key}={dataset[key]!r} is read by real video datasets "
          f"only; synthetic/{dataset.variant} trains on random windows and "
          f"crops without flips and tests one centred window and crop"
          for key in synthetic_dataset.REAL_DATA_ONLY
          if dataset[key] != defaults[key]]


def _check_train(train: ml_collections.ConfigDict, devices: int) -> list[str]:
  problems = []
  for key in ("batch_size", "num_steps", "log_every_steps",
              "checkpoint_every_steps", "keep_checkpoints",
              "max_nonfinite_in_a_row"):
    if train[key] < 1:
      problems.append(f"train.{key}={train[key]} must be >= 1")
  if train.batch_size % devices:
    problems.append(f"train.batch_size={train.batch_size} is not divisible by "
                    f"the {devices} devices of the data axis")
  if train.optimizer not in optim.OPTIMIZERS:
    problems.append(f"train.optimizer={train.optimizer!r}; known: "
                    f"{optim.OPTIMIZERS}")
  if train.schedule not in optim.SCHEDULES:
    problems.append(f"train.schedule={train.schedule!r}; known: "
                    f"{optim.SCHEDULES}")
  if not 0 <= train.warmup_steps <= train.num_steps:
    problems.append(f"train.warmup_steps={train.warmup_steps} must be in "
                    f"[0, train.num_steps={train.num_steps}]")
  if not 0.0 <= train.label_smoothing < 1.0:
    problems.append(f"train.label_smoothing={train.label_smoothing} must be "
                    f"in [0, 1)")
  if train.learning_rate <= 0:
    problems.append(f"train.learning_rate={train.learning_rate} must be > 0")
  return problems


def _check_transfer(transfer_cfg: ml_collections.ConfigDict) -> list[str]:
  """Asks the stage's `transfer.Stage` what it needs and allows."""
  init_from, multiplier = (transfer_cfg.init_from,
                           transfer_cfg.backbone_lr_multiplier)
  try:
    stage = transfer.stage(transfer_cfg.stage)
  except ValueError as e:
    return [str(e)]
  problems = []
  if stage.init_from == "required" and not init_from:
    problems.append(f"transfer.stage={stage.name!r} needs transfer.init_from "
                    "(a workdir or checkpoint of a pretraining run, or "
                    "converted weights)")
  if stage.init_from == "forbidden" and init_from:
    problems.append(f"transfer.stage={stage.name!r} trains from random "
                    f"weights; unset transfer.init_from={init_from!r}")
  if transfer_cfg.inflate_2d and not init_from:
    problems.append("transfer.inflate_2d needs transfer.init_from")
  if multiplier < 0:
    problems.append("transfer.backbone_lr_multiplier must be >= 0")
  elif multiplier != 1.0 and not stage.backbone_lr_multiplier:
    with_multiplier = [s.name for s in transfer.STAGES.values()
                       if s.backbone_lr_multiplier]
    problems.append(f"transfer.backbone_lr_multiplier={multiplier} is used "
                    f"only by the stages {with_multiplier}, not by "
                    f"{stage.name!r}; leave it at 1.0")
  return problems


def _check_mesh(config: ml_collections.ConfigDict) -> tuple[list[str], int]:
  """The mesh against the devices and what the model can split; returns
  the problems and the size of the `data` axis."""
  try:
    mesh = sharding.make_mesh(config.mesh)
  except ValueError as e:
    return [str(e)], jax.device_count()
  data, spatial = mesh.shape[sharding.DATA_AXIS], mesh.shape[
      sharding.SPATIAL_AXIS]
  if spatial == 1:
    return [], data
  problems = []
  if jax.local_device_count() % spatial:
    problems.append(
        f"mesh.spatial={spatial} does not divide the {jax.local_device_count()}"
        " devices of one process (each process reads whole clips, so a "
        "clip's devices must sit in one process)")
  crop = config.dataset.crop_size
  if crop % spatial:
    problems.append(f"dataset.crop_size={crop} is not divisible by "
                    f"mesh.spatial={spatial}: the clip's {crop} rows are split "
                    "evenly over the spatial axis")
  name = config.model.name
  if name in models.MODELS and models.MODELS[name].flattens_space:
    problems.append(f"model {name!r} flattens H x W into features, so "
                    "mesh.spatial cannot split its activations; set "
                    "mesh.spatial=1")
  return problems, data


def _check_scaling(config: ml_collections.ConfigDict, data: int) -> list[str]:
  """train.remat needs a model with blocks to recompute; accumulation
  needs micro-batches that split evenly over the data axis."""
  problems = []
  name, steps = config.model.name, config.train.grad_accum_steps
  if config.train.remat and name in models.MODELS:
    try:
      has_remat = hasattr(models.from_config(config.model, 2), "remat")
    except TypeError:
      has_remat = True  # already reported by _check_model
    if not has_remat:
      problems.append(f"train.remat: model {name!r} has no residual or "
                      "Inception blocks to recompute; set train.remat=False")
  if steps < 1 or config.train.batch_size % (steps * data):
    problems.append(
        f"train.grad_accum_steps={steps} must be >= 1 and split "
        f"train.batch_size={config.train.batch_size} into micro-batches "
        f"divisible by the {data} devices of the data axis")
  return problems


def validate(config: ml_collections.ConfigDict) -> None:
  """Raises ConfigError naming every config value that cannot work."""
  problems = (_check_model(config) + _check_inputs(config) +
              _check_synthetic(config.dataset))
  if config.dataset.name not in DATASETS:
    problems.append(f"dataset.name={config.dataset.name!r}; known: "
                    f"{', '.join(sorted(DATASETS))}")
  mesh_problems, data_devices = _check_mesh(config)
  problems += mesh_problems + _check_scaling(config, data_devices)
  problems += _check_train(config.train, data_devices)
  if config.eval.batch_size < 1 or config.eval.batch_size % data_devices:
    problems.append(f"eval.batch_size={config.eval.batch_size} must be >= 1 "
                    f"and divisible by the {data_devices} data devices")
  if config.eval.precise_bn_batches < 0:
    problems.append(f"eval.precise_bn_batches={config.eval.precise_bn_batches}"
                    " must be >= 0")
  problems += _check_transfer(config.transfer)
  if problems:
    raise ConfigError("Invalid config:\n  " + "\n  ".join(problems))
