"""Presets of the transfer study (launch/transfer_study.py): Quo Vadis Table 4.

  python -m launch.transfer_study --config=configs/transfer_study.py:miniature --out=DIR

The argument names one preset (as the trainer's config files do, through
base_config.parse_arg; a study takes no options).

Presets:
  miniature (default): ir_csn_tiny and i3d_rgb_tiny pretrained on the
    synthetic `pretrain` set (32 motion classes, Kinetics' role), then
    scratch / fixed / finetune on `target_a` (UCF-101's role) and `target_b`
    (HMDB-51's role); about 35-50 minutes on 2 CPU cores (docs/transfer_study.md).
  smoke: the `tiny` synthetic variant in every role, 2 steps per run (tests).
  kinetics_ucf_hmdb: I3D (RGB) and ir-CSN-152 pretrained on Kinetics-400,
    transferred to UCF-101 and HMDB-51 split 1 with paper-like settings. Set
    the prepared folders (docs/real_data.md):
      --config.datasets.kinetics.data_dir=... (likewise ucf101, hmdb51)
    and `--config.datasets.ucf101.folds=(1,2,3)` to average the three splits.

Fields:
  architectures: table rows, keys of `models`.
  targets: table column groups, keys of `datasets`.
  stages: the columns of a group, a subset of (scratch, fixed, finetune).
  pretrain_dataset: the key of `datasets` every architecture pretrains on.
  trainer: the trainer config (video_flax/base_config.py) every run starts
    from; a run changes only the fields named below.
  models.<arch>: model_name, dropout_rate and the clip geometry
    (num_frames, frame_stride, crop_size, clip_sampling, scale_jitter).
  datasets.<key>: name, variant, data_dir, train_split, eval_split, and
    folds: () for a dataset without folds, else the UCF-101 / HMDB-51 splits
    to run (one workdir each, averaged in the table).
  schedules.<stage>: num_steps, learning_rate, warmup_steps,
    backbone_lr_multiplier (pretrain, scratch, fixed, finetune).
"""
from __future__ import annotations

import ml_collections

from video_flax import base_config

def _architecture(model_name: str, *, dropout_rate: float = 0.0,
                  num_frames: int = 8, frame_stride: int = 1,
                  crop_size: int = 32, clip_sampling: str = "",
                  scale_jitter: tuple[int, ...] = ()
                  ) -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(dict(
      model_name=model_name, dropout_rate=dropout_rate, num_frames=num_frames,
      frame_stride=frame_stride, crop_size=crop_size,
      clip_sampling=clip_sampling, scale_jitter=scale_jitter))


def _dataset(name: str, *, variant: str = "default", data_dir: str = "",
             train_split: str = "train", eval_split: str = "test",
             folds: tuple[int, ...] = ()) -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(dict(
      name=name, variant=variant, data_dir=data_dir, train_split=train_split,
      eval_split=eval_split, folds=folds))


def _schedule(*, num_steps: int, learning_rate: float, warmup_steps: int,
              backbone_lr_multiplier: float = 1.0
              ) -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(dict(
      num_steps=num_steps, learning_rate=learning_rate,
      warmup_steps=warmup_steps,
      backbone_lr_multiplier=backbone_lr_multiplier))


def _miniature() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.architectures = ("ir_csn_tiny", "i3d_rgb_tiny")
  config.targets = ("target_a", "target_b")
  config.stages = ("scratch", "fixed", "finetune")
  config.pretrain_dataset = "pretrain"
  config.trainer = base_config.get_base_config()
  config.trainer.train.log_every_steps = 100
  config.models = ml_collections.ConfigDict({
      "ir_csn_tiny": _architecture("ir_csn_tiny"),
      "i3d_rgb_tiny": _architecture("i3d_rgb_tiny")})
  config.datasets = ml_collections.ConfigDict({
      key: _dataset("synthetic", variant=key)
      for key in ("pretrain", "target_a", "target_b")})
  # Step counts from measured step times (docs/transfer_study.md): ~35 min.
  config.schedules = ml_collections.ConfigDict({
      "pretrain": _schedule(num_steps=3000, learning_rate=0.2,
                            warmup_steps=100),
      "scratch": _schedule(num_steps=500, learning_rate=0.2,
                           warmup_steps=50),
      "fixed": _schedule(num_steps=500, learning_rate=0.2,
                         warmup_steps=50),
      # A lower rate keeps the pretrained features (the paper's Full-FT).
      "finetune": _schedule(num_steps=500, learning_rate=0.05,
                            warmup_steps=50)})
  return config


def _smoke() -> ml_collections.ConfigDict:
  config = _miniature()
  # The tiny model that traces and compiles fastest: the test checks the
  # study's mechanics, not what a 3D network learns.
  config.architectures = ("frame2d_tiny",)
  config.models = ml_collections.ConfigDict({
      "frame2d_tiny": _architecture("frame2d_tiny")})
  for key in config.datasets:
    config.datasets[key].variant = "tiny"
  trainer = config.trainer
  trainer.train.batch_size = 4
  trainer.train.log_every_steps = 1
  trainer.train.checkpoint_every_steps = 2
  trainer.eval.batch_size = 12
  trainer.eval.precise_bn_batches = 1
  for stage in config.schedules:
    config.schedules[stage] = _schedule(num_steps=2, learning_rate=0.1,
                                        warmup_steps=1)
  return config


def _kinetics_ucf_hmdb() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.architectures = ("i3d_rgb", "ir_csn_152")
  config.targets = ("ucf101", "hmdb51")
  config.stages = ("scratch", "fixed", "finetune")
  config.pretrain_dataset = "kinetics"
  config.trainer = base_config.get_base_config()
  trainer = config.trainer
  trainer.train.batch_size = 64
  trainer.train.log_every_steps = 100
  trainer.train.checkpoint_every_steps = 2_000
  # I3D tests on whole videos (250 frames): small evaluation batches.
  trainer.eval.batch_size = 16
  trainer.eval.precise_bn_batches = 200
  config.models = ml_collections.ConfigDict({
      "i3d_rgb": _architecture("i3d_rgb", dropout_rate=0.5, num_frames=64,
                               crop_size=224, clip_sampling="i3d"),
      "ir_csn_152": _architecture("ir_csn_152", dropout_rate=0.2,
                                  num_frames=32, frame_stride=2,
                                  crop_size=224, clip_sampling="csn_32x2",
                                  scale_jitter=(256, 320))})
  config.datasets = ml_collections.ConfigDict({
      "kinetics": _dataset("kinetics", eval_split="val"),
      "ucf101": _dataset("ucf101", folds=(1,)),
      "hmdb51": _dataset("hmdb51", folds=(1,))})
  # Quo Vadis: SGD 0.1 for ~110k steps on Kinetics, up to 5k on the targets.
  config.schedules = ml_collections.ConfigDict({
      "pretrain": _schedule(num_steps=110_000, learning_rate=0.1,
                            warmup_steps=2_000),
      "scratch": _schedule(num_steps=5_000, learning_rate=0.1,
                           warmup_steps=250),
      "fixed": _schedule(num_steps=5_000, learning_rate=0.1,
                         warmup_steps=250),
      "finetune": _schedule(num_steps=5_000, learning_rate=0.01,
                            warmup_steps=250)})
  return config


PRESETS = {"miniature": _miniature, "smoke": _smoke,
           "kinetics_ucf_hmdb": _kinetics_ucf_hmdb}


def get_config(arg: str = "miniature") -> ml_collections.ConfigDict:
  """The study config of `arg` (the text after `transfer_study.py:`)."""
  name, _ = base_config.parse_arg(arg, PRESETS, "miniature", options={},
                                  what="transfer_study")
  return PRESETS[name]()
