"""Optimizers and learning-rate schedules (optax), built from `config.train`."""
from __future__ import annotations

from typing import Any

import jax
import ml_collections
import optax

from video_flax import transfer

OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("cosine", "constant")


def make_schedule(train_cfg: ml_collections.ConfigDict) -> optax.Schedule:
  """Linear warmup from 0 to `learning_rate`, then cosine to 0 or constant."""
  peak, warmup, total = (train_cfg.learning_rate, train_cfg.warmup_steps,
                         train_cfg.num_steps)
  if train_cfg.schedule == "cosine":
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=peak, warmup_steps=warmup,
        decay_steps=max(total, warmup + 1), end_value=0.0)
  if train_cfg.schedule == "constant":
    return optax.join_schedules(
        [optax.linear_schedule(0.0, peak, max(warmup, 1)),
         optax.constant_schedule(peak)], [warmup])
  raise ValueError(f"train.schedule={train_cfg.schedule!r}; known: {SCHEDULES}")


def weight_decay_mask(params: Any) -> Any:
  """True for conv/dense kernels; False for biases and BN scale/offset."""
  return jax.tree.map(lambda p: p.ndim > 1, params)


def make_optimizer(train_cfg: ml_collections.ConfigDict,
                   schedule: optax.Schedule) -> optax.GradientTransformation:
  """SGD (momentum) or AdamW with weight decay masked off 1-D parameters."""
  if train_cfg.optimizer == "sgd":
    tx = optax.chain(
        optax.add_decayed_weights(train_cfg.weight_decay, weight_decay_mask),
        optax.sgd(schedule, momentum=train_cfg.momentum or None,
                  nesterov=train_cfg.nesterov))
  elif train_cfg.optimizer == "adamw":
    tx = optax.adamw(schedule, b1=train_cfg.momentum,
                     weight_decay=train_cfg.weight_decay,
                     mask=weight_decay_mask)
  else:
    raise ValueError(
        f"train.optimizer={train_cfg.optimizer!r}; known: {OPTIMIZERS}")
  if train_cfg.grad_clip_norm > 0:
    tx = optax.chain(optax.clip_by_global_norm(train_cfg.grad_clip_norm), tx)
  return tx


def make_stage_optimizer(config: ml_collections.ConfigDict,
                         schedule: optax.Schedule) -> optax.GradientTransformation:
  """The optimizer of `config.transfer.stage` (see `transfer.Stage`).

  A frozen backbone gets updates of exactly 0 (only `head` parameters move);
  a stage with a backbone lr multiplier moves the backbone at
  `transfer.backbone_lr_multiplier` times the learning rate.
  """
  tx = make_optimizer(config.train, schedule)
  stage = transfer.stage(config.transfer.stage)
  multiplier = config.transfer.backbone_lr_multiplier
  if stage.frozen_backbone:
    return optax.multi_transform(
        {transfer.HEAD: tx, "backbone": optax.set_to_zero()},
        transfer.head_labels)
  if stage.backbone_lr_multiplier and multiplier != 1.0:
    backbone = make_optimizer(config.train, lambda s: schedule(s) * multiplier)
    return optax.multi_transform({transfer.HEAD: tx, "backbone": backbone},
                                 transfer.head_labels)
  return tx
