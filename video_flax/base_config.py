"""Base config shared by every model family (configs/*.py start from it).

Every field is spelled out here; presets in the per-family files change
values, never add keys silently. `--config.a.b=value` overrides any of them,
and unknown keys are rejected by `config_flags` (the config is locked).
"""
from __future__ import annotations

import ml_collections


def get_base_config() -> ml_collections.ConfigDict:
  """Returns the defaults: the synthetic dataset, SGD + cosine, precise BN."""
  config = ml_collections.ConfigDict()
  config.seed = 0

  # Every field but `name` is passed to the model constructor as a keyword.
  config.model = ml_collections.ConfigDict()
  config.model.name = "ir_csn_tiny"
  config.model.dropout_rate = 0.0
  config.model.dtype = "float32"  # compute dtype: float32 | bfloat16

  config.dataset = ml_collections.ConfigDict()
  config.dataset.name = "synthetic"
  config.dataset.variant = "default"
  config.dataset.data_dir = ""  # '' -> $VIDEO_FLAX_DATA_DIR or ~/.cache/video_flax
  config.dataset.num_frames = 8
  config.dataset.frame_stride = 1
  config.dataset.crop_size = 32
  config.dataset.train_split = "train"
  config.dataset.eval_split = "test"
  config.dataset.worker_count = 0  # grain worker processes; 0 = in-process
  # Real datasets (kinetics, ucf101, hmdb51): see docs/real_data.md.
  config.dataset.fold = 1  # UCF-101 / HMDB-51 split 1, 2 or 3
  # '' or csn_8x2 | csn_32x2 | i3d | c3d | lstm | two_stream | fused_3d
  config.dataset.clip_sampling = ""
  config.dataset.streams = "rgb"  # rgb | flow | rgb+flow (keys video / flow)
  config.dataset.short_video = "loop"  # loop | pad
  config.dataset.scale_jitter = ()  # e.g. (256, 320) for CSN; () = plain crop
  config.dataset.flip = True  # real data only; synthetic classes are motion
  config.dataset.normalization = "minus_one_one"  # | kinetics | imagenet | unit
  config.dataset.eval_num_clips = 0  # 0 = the sampling preset's
  config.dataset.eval_crop = "three"  # center | three | full

  config.train = ml_collections.ConfigDict()
  config.train.batch_size = 16  # global, over all devices and hosts
  config.train.num_steps = 2000
  config.train.optimizer = "sgd"  # sgd | adamw
  config.train.learning_rate = 0.2  # peak, for the global batch size
  config.train.schedule = "cosine"  # cosine | constant
  config.train.warmup_steps = 50
  config.train.momentum = 0.9  # sgd momentum; adamw b1
  config.train.nesterov = False
  config.train.weight_decay = 1e-4  # masked off biases and BN parameters
  config.train.label_smoothing = 0.0
  config.train.grad_clip_norm = 0.0  # 0 = off
  config.train.log_every_steps = 50
  config.train.checkpoint_every_steps = 200
  config.train.keep_checkpoints = 2
  # Steps with a non-finite loss or gradient are skipped (parameters
  # unchanged); this many in a row stop the run with an error.
  config.train.max_nonfinite_in_a_row = 10

  config.eval = ml_collections.ConfigDict()
  config.eval.batch_size = 64
  config.eval.every_steps = 0  # 0 = only after training
  # Batches of training data over which BN statistics are recomputed before
  # evaluation (PySlowFast's precise BN); 0 = use the running averages.
  config.eval.precise_bn_batches = 20

  # Transfer stage (video_flax/transfer.py): pretrain | scratch | fixed |
  # finetune. fixed and finetune start from `init_from` (a workdir or a
  # checkpoint step dir) with the classifier re-initialised when the class
  # count differs; fixed trains only the classifier with BN frozen.
  config.transfer = ml_collections.ConfigDict()
  config.transfer.stage = "pretrain"
  config.transfer.init_from = ""
  config.transfer.inflate_2d = False  # init_from is a 2D net: inflate it (I3D)
  config.transfer.backbone_lr_multiplier = 1.0  # finetune only

  # Device mesh: `data` x `model`; -1 = all remaining devices.
  config.mesh = ml_collections.ConfigDict()
  config.mesh.data = -1
  config.mesh.model = 1
  return config


def set_csn_kinetics_schedule(config: ml_collections.ConfigDict) -> None:
  """The CSN paper's Kinetics training schedule, shared by the 3D-ResNet
  family's presets: batch 64, 100k steps of SGD at peak lr 0.4 after 5k
  warmup steps; precise BN over 200 batches."""
  config.train.batch_size = 64
  config.train.num_steps = 100_000
  config.train.learning_rate = 0.4
  config.train.warmup_steps = 5_000
  config.train.checkpoint_every_steps = 2_000
  config.eval.batch_size = 64
  config.eval.precise_bn_batches = 200
