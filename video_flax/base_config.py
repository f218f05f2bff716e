"""Base config shared by every model family, and what a preset may change.

Every field is spelled out in `get_base_config`; presets in the per-family
files (configs/*.py) change values, never add keys silently.
`--config.a.b=value` overrides any of them, and unknown keys are rejected by
`config_flags` (the config is locked).

A family file holds `PRESETS` (name -> `Preset`) and passes its config
argument to `config_from_arg`: comma-separated items, one bare preset name
and `key=value` options (`OPTIONS`), big_vision style:

  --config=configs/i3d.py:i3d_rgb,stage=finetune,init_from=/runs/k400
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import ml_collections


def _dataset_defaults() -> ml_collections.ConfigDict:
  """The `dataset` fields: the synthetic set, 8 frames of 32x32."""
  dataset = ml_collections.ConfigDict()
  dataset.name = "synthetic"
  dataset.variant = "default"
  dataset.data_dir = ""  # '' -> $VIDEO_FLAX_DATA_DIR or ~/.cache/video_flax
  dataset.num_frames = 8
  dataset.frame_stride = 1
  dataset.crop_size = 32
  dataset.train_split = "train"
  dataset.eval_split = "test"
  dataset.worker_count = 0  # grain worker processes; 0 = in-process
  # Real datasets (kinetics, ucf101, hmdb51): see docs/real_data.md.
  dataset.fold = 1  # UCF-101 / HMDB-51 split 1, 2 or 3
  # '' or csn_8x2 | csn_32x2 | i3d | c3d | lstm | two_stream | fused_3d
  dataset.clip_sampling = ""
  dataset.streams = "rgb"  # rgb | flow | rgb+flow (keys video / flow)
  dataset.short_video = "loop"  # loop | pad
  dataset.scale_jitter = ()  # e.g. (256, 320) for CSN; () = plain crop
  dataset.flip = True  # real data only; synthetic classes are motion
  dataset.normalization = "minus_one_one"  # | kinetics | imagenet | unit
  dataset.eval_num_clips = 0  # 0 = the sampling preset's
  dataset.eval_crop = "three"  # center | three | full
  return dataset


def _train_defaults() -> ml_collections.ConfigDict:
  """`config.train`: batch, optimizer, schedule, logging, checkpoints,
  nonfinite steps, remat and gradient accumulation."""
  train = ml_collections.ConfigDict()
  train.batch_size = 16  # global, over all devices and hosts
  train.num_steps = 2000
  train.optimizer = "sgd"  # sgd | adamw
  train.learning_rate = 0.2  # peak, for the global batch size
  train.schedule = "cosine"  # cosine | constant
  train.warmup_steps = 50
  train.momentum = 0.9  # sgd momentum; adamw b1
  train.nesterov = False
  train.weight_decay = 1e-4  # masked off biases and BN parameters
  train.label_smoothing = 0.0
  train.grad_clip_norm = 0.0  # 0 = off
  train.log_every_steps = 50
  train.checkpoint_every_steps = 200
  train.keep_checkpoints = 2
  # Steps with a non-finite loss or gradient are skipped (parameters
  # unchanged); this many in a row stop the run with an error.
  train.max_nonfinite_in_a_row = 10
  # Recompute each residual / Inception block in the backward pass (less
  # activation memory, ~1/3 more compute; same values).
  train.remat = False
  # Split each batch into this many micro-batches and average their
  # gradients (BN normalises each micro-batch on its own).
  train.grad_accum_steps = 1
  return train


def get_base_config() -> ml_collections.ConfigDict:
  """Returns the defaults: the synthetic dataset, SGD + cosine, precise BN."""
  config = ml_collections.ConfigDict()
  config.seed = 0

  # Every field but `name` is passed to the model constructor as a keyword.
  config.model = ml_collections.ConfigDict()
  config.model.name = "ir_csn_tiny"
  config.model.dropout_rate = 0.0
  config.model.dtype = "float32"  # compute dtype: float32 | bfloat16

  config.dataset = _dataset_defaults()

  config.train = _train_defaults()

  config.eval = ml_collections.ConfigDict()
  config.eval.batch_size = 64
  config.eval.every_steps = 0  # 0 = only after training
  # Batches of training data over which BN statistics are recomputed before
  # evaluation (PySlowFast's precise BN); 0 = use the running averages.
  config.eval.precise_bn_batches = 20

  # Transfer stage (video_flax/transfer.py): pretrain | scratch | fixed |
  # finetune. fixed and finetune start from `init_from` (a workdir, a
  # checkpoint step dir or a converted-weights dir: video_flax/weights) with
  # the classifier re-initialised when the class count differs; fixed trains
  # only the classifier with BN frozen.
  config.transfer = ml_collections.ConfigDict()
  config.transfer.stage = "pretrain"
  config.transfer.init_from = ""
  config.transfer.inflate_2d = False  # init_from is a 2D net: inflate it (I3D)
  config.transfer.backbone_lr_multiplier = 1.0  # finetune only

  # Device mesh: `data` (splits the batch) x `spatial` (splits each clip's
  # height through the network); -1 = all remaining devices.
  config.mesh = ml_collections.ConfigDict()
  config.mesh.data = -1
  config.mesh.spatial = 1
  return config


@dataclasses.dataclass(frozen=True)
class Recipe:
  """How a paper preset trains on Kinetics-400 (and its test crop)."""
  batch_size: int
  num_steps: int
  learning_rate: float
  warmup_steps: int
  weight_decay: float
  eval_crop: str  # center | three | full


# The CSN paper's, shared by the 3D-ResNet family: batch 64, 100k steps of
# SGD at peak lr 0.4 after 5k warmup steps; three crops at test.
CSN_RECIPE = Recipe(batch_size=64, num_steps=100_000, learning_rate=0.4,
                    warmup_steps=5_000, weight_decay=1e-4, eval_crop="three")
# The I3D release's: 64 x 6 clips, SGD at 0.1 without warmup, weight decay
# 1e-7, 115k steps (cosine where it steps the rate down); centre crop at test.
I3D_RECIPE = Recipe(batch_size=384, num_steps=115_000, learning_rate=0.1,
                    warmup_steps=0, weight_decay=1e-7, eval_crop="center")


@dataclasses.dataclass(frozen=True)
class Kinetics:
  """Training on Kinetics-400: the clip (a clip_sampling preset and the
  geometry it gives) and the recipe."""
  clip_sampling: str
  num_frames: int
  recipe: Recipe
  frame_stride: int = 1
  crop_size: int = 224
  scale_jitter: tuple[int, int] = (256, 256)  # train short-side range


# The CSN paper's clip: 32 frames 2 apart, short side 256-320, 224 crops.
CSN_32X2 = Kinetics(clip_sampling="csn_32x2", num_frames=32, frame_stride=2,
                    scale_jitter=(256, 320), recipe=CSN_RECIPE)


@dataclasses.dataclass(frozen=True)
class Preset:
  """A named config: `model` on the built-in synthetic set, or on Kinetics
  when `kinetics` is set; `overrides` (dotted key -> value) come last."""
  model: str
  dropout_rate: float = 0.0
  streams: str = "rgb"  # rgb | flow | rgb+flow
  kinetics: Kinetics | None = None
  overrides: Mapping[str, object] = dataclasses.field(default_factory=dict)


# Config argument options -> the field each sets.
OPTIONS = {"stage": "transfer.stage", "init_from": "transfer.init_from"}


def set_fields(config: ml_collections.ConfigDict,
               values: Mapping[str, object]) -> None:
  """Sets dotted keys, e.g. {"train.num_steps": 6}; a key must exist."""
  for key, value in values.items():
    node = config
    *parents, leaf = key.split(".")
    for parent in parents:
      node = node[parent]
    node[leaf] = value


def set_kinetics(config: ml_collections.ConfigDict, kinetics: Kinetics
                 ) -> None:
  """The one Kinetics-400 setup of every paper preset: its clip, recipe,
  checkpoints every 2k steps and precise BN over 200 batches."""
  recipe = kinetics.recipe
  set_fields(config, {
      "dataset.name": "kinetics", "dataset.eval_split": "val",
      "dataset.clip_sampling": kinetics.clip_sampling,
      "dataset.num_frames": kinetics.num_frames,
      "dataset.frame_stride": kinetics.frame_stride,
      "dataset.crop_size": kinetics.crop_size,
      "dataset.scale_jitter": kinetics.scale_jitter,
      "dataset.eval_crop": recipe.eval_crop,
      "train.batch_size": recipe.batch_size,
      "train.num_steps": recipe.num_steps,
      "train.learning_rate": recipe.learning_rate,
      "train.warmup_steps": recipe.warmup_steps,
      "train.weight_decay": recipe.weight_decay,
      "train.checkpoint_every_steps": 2_000,
      "eval.batch_size": 64, "eval.precise_bn_batches": 200})


def preset_config(preset: Preset) -> ml_collections.ConfigDict:
  """The base config with `preset` applied."""
  config = get_base_config()
  config.model.name = preset.model
  config.model.dropout_rate = preset.dropout_rate
  config.dataset.streams = preset.streams
  if preset.kinetics is not None:
    set_kinetics(config, preset.kinetics)
  set_fields(config, preset.overrides)
  return config


def parse_arg(arg: str, presets: Mapping[str, object], default: str,
              options: Mapping[str, str] = OPTIONS, what: str = "config"
              ) -> tuple[str, dict[str, str]]:
  """Splits a config argument ("name,key=value,...") into the preset name
  (`default` when none is given) and the options; ValueError names every
  unknown preset or option and the known ones."""
  items = [item for item in arg.split(",") if item]
  names = [item for item in items if "=" not in item]
  values = dict(item.split("=", 1) for item in items if "=" in item)
  problems = []
  if len(names) > 1:
    problems.append(f"several presets {names}; give one")
  problems += [f"unknown preset {n!r}" for n in names if n not in presets]
  problems += [f"unknown option {k!r}" for k in values if k not in options]
  if problems:
    raise ValueError(
        f"{what} argument {arg!r}: {'; '.join(problems)}. Presets: "
        f"{', '.join(presets)}; options: "
        f"{', '.join(f'{k}=' for k in options) or 'none'}")
  return (names[0] if names else default), values


def config_from_arg(arg: str, presets: Mapping[str, Preset], default: str,
                    family: str) -> ml_collections.ConfigDict:
  """The config of a family file's argument, e.g. "i3d_rgb,stage=fixed"."""
  name, values = parse_arg(arg, presets, default, what=family)
  config = preset_config(presets[name])
  set_fields(config, {OPTIONS[k]: v for k, v in values.items()})
  return config
