"""Checks a config before any compute; every problem is named in one error.

`config_flags` (with lock_config) already rejects unknown keys and values
of the wrong type; this module rejects values that parse but cannot work.
"""
from __future__ import annotations

import jax
import ml_collections

from video_flax import models
from video_flax import optim
from video_flax import transfer
from video_flax.data import DATASETS
from video_flax.data.dataset_api import STREAMS

DTYPES = ("float32", "bfloat16", "float16")


class ConfigError(ValueError):
  """A config value that cannot work; the message lists every such value."""


def _check_model(config: ml_collections.ConfigDict) -> list[str]:
  name = config.model.name
  if name not in models.MODELS:
    return [f"model.name={name!r} is not a registered model; known: "
            f"{', '.join(sorted(models.MODELS))}"]
  problems = []
  if config.model.get("dtype", "float32") not in DTYPES:
    problems.append(f"model.dtype={config.model.dtype!r}; known: {DTYPES}")
  kwargs = {k: v for k, v in config.model.items() if k not in ("name", "dtype")}
  try:
    models.build_model(name, num_classes=2, **kwargs)
  except TypeError as e:
    problems.append(f"model fields {sorted(kwargs)} do not fit {name!r}: {e}")
  return problems


def _check_inputs(config: ml_collections.ConfigDict) -> list[str]:
  """The model's input keys must be what its dataset emits."""
  name, dataset = config.model.name, config.dataset
  if name not in models.MODELS or dataset.name not in DATASETS:
    return []  # already reported
  emitted = DATASETS[dataset.name].input_keys(dataset)
  if not emitted:
    return [f"dataset.streams={dataset.streams!r}; known: "
            f"{', '.join(STREAMS)}"]
  ctor = models.MODELS[name]
  wanted = getattr(getattr(ctor, "func", ctor), "input_keys", ("video",))
  if set(wanted) != set(emitted):
    fix = "".join(f"set dataset.streams={k!r} or " for k, v in STREAMS.items()
                  if set(v) == set(wanted))
    return [f"model {name!r} reads {wanted} but dataset.streams="
            f"{dataset.streams!r} gives {emitted}; {fix}choose a model that "
            f"reads {emitted}"]
  return []


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
  stage, init_from = transfer_cfg.stage, transfer_cfg.init_from
  if stage not in transfer.STAGES:
    return [f"transfer.stage={stage!r}; known: {transfer.STAGES}"]
  problems = []
  if stage in ("fixed", "finetune") and not init_from:
    problems.append(f"transfer.stage={stage!r} needs transfer.init_from (a "
                    "workdir or checkpoint of a pretraining run)")
  if stage == "scratch" and init_from:
    problems.append("transfer.stage='scratch' trains from random weights; "
                    f"unset transfer.init_from={init_from!r}")
  if transfer_cfg.inflate_2d and not init_from:
    problems.append("transfer.inflate_2d needs transfer.init_from")
  if transfer_cfg.backbone_lr_multiplier < 0:
    problems.append("transfer.backbone_lr_multiplier must be >= 0")
  return problems


def validate(config: ml_collections.ConfigDict) -> None:
  """Raises ConfigError naming every config value that cannot work."""
  problems = _check_model(config) + _check_inputs(config)
  if config.dataset.name not in DATASETS:
    problems.append(f"dataset.name={config.dataset.name!r}; known: "
                    f"{', '.join(sorted(DATASETS))}")
  data_devices = (jax.device_count() // config.mesh.model
                  if config.mesh.model > 0 else jax.device_count())
  problems += _check_train(config.train, max(data_devices, 1))
  if config.eval.batch_size < 1 or config.eval.batch_size % max(data_devices, 1):
    problems.append(f"eval.batch_size={config.eval.batch_size} must be >= 1 "
                    f"and divisible by the {data_devices} data devices")
  if config.eval.precise_bn_batches < 0:
    problems.append(f"eval.precise_bn_batches={config.eval.precise_bn_batches}"
                    " must be >= 0")
  problems += _check_transfer(config.transfer)
  if problems:
    raise ConfigError("Invalid config:\n  " + "\n  ".join(problems))
