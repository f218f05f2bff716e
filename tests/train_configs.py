"""Tiny end-to-end training configs for the trainer's tests."""
from __future__ import annotations

import ml_collections

from video_flax import base_config


def tiny_train_config(**overrides) -> ml_collections.ConfigDict:
  """ir_csn_tiny on the `tiny` synthetic variant: a few steps, a few clips.

  overrides: dotted keys, e.g. {"train.num_steps": 6}.
  """
  config = base_config.get_base_config()
  config.dataset.variant = "tiny"
  config.train.batch_size = 4
  config.train.num_steps = 4
  config.train.warmup_steps = 1
  config.train.log_every_steps = 2
  config.train.checkpoint_every_steps = 2
  config.eval.batch_size = 12
  config.eval.precise_bn_batches = 1
  base_config.set_fields(config, overrides)
  return config
