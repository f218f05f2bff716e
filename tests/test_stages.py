"""The transfer stage table and everything that asks it: validation, the
optimizer, the trainer's BN mode and precise BN."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

from video_flax import base_config
from video_flax import config_validation
from video_flax import optim
from video_flax import transfer


def test_stage_table():
  assert tuple(transfer.STAGES) == ("pretrain", "scratch", "fixed",
                                    "finetune")
  fixed = transfer.stage("fixed")
  assert (fixed.init_from, fixed.trains_bn, fixed.frozen_backbone,
          fixed.precise_bn) == ("required", False, True, False)
  assert transfer.stage("finetune").backbone_lr_multiplier
  assert transfer.stage("scratch").init_from == "forbidden"
  assert transfer.stage("pretrain").init_from == "optional"
  with pytest.raises(ValueError, match="known: .*'finetune'"):
    transfer.stage("linear_probe")


def _config(**transfer_fields):
  config = base_config.get_base_config()
  config.transfer.update(transfer_fields)
  return config


def _problems(config) -> str:
  with pytest.raises(config_validation.ConfigError) as e:
    config_validation.validate(config)
  return str(e.value)


def test_validation_asks_the_stage():
  config_validation.validate(_config(stage="pretrain", init_from="/run"))
  config_validation.validate(_config(stage="finetune", init_from="/run",
                                     backbone_lr_multiplier=0.1))
  assert "needs transfer.init_from" in _problems(_config(stage="fixed"))
  assert "unset transfer.init_from" in _problems(
      _config(stage="scratch", init_from="/run"))
  assert "used only by the stages ['finetune']" in _problems(
      _config(stage="pretrain", backbone_lr_multiplier=0.1))


def test_mesh_layouts_the_model_cannot_use_are_named():
  config = base_config.get_base_config()
  config.mesh.spatial = 2  # one CPU device
  assert "data=-1 x spatial=2 does not match the 1 available" in _problems(
      config)
  config.mesh.spatial, config.model.name = 1, "c3d_bn_tiny"
  config.train.remat, config.train.grad_accum_steps = True, 3
  problems = _problems(config)
  assert "model 'c3d_bn_tiny' has no residual or Inception blocks" in problems
  assert "train.grad_accum_steps=3 must be >= 1 and split" in problems


def _updates(stage: str, multiplier: float = 1.0):
  config = _config(stage=stage, init_from="/run",
                   backbone_lr_multiplier=multiplier)
  config.train.warmup_steps, config.train.schedule = 0, "constant"
  config.train.weight_decay, config.train.momentum = 0.0, 0.0
  tx = optim.make_stage_optimizer(config, optim.make_schedule(config.train))
  params = {"conv": {"kernel": jnp.ones((2, 2))},
            "head": {"kernel": jnp.ones((2, 2))}}
  grads = jax.tree.map(jnp.ones_like, params)
  updates, _ = tx.update(grads, tx.init(params), params)
  return (float(updates["conv"]["kernel"][0, 0]),
          float(updates["head"]["kernel"][0, 0]))


def test_optimizer_asks_the_stage():
  lr = base_config.get_base_config().train.learning_rate
  assert _updates("fixed") == (0.0, pytest.approx(-lr))
  assert _updates("finetune", 0.1) == (pytest.approx(-0.1 * lr),
                                       pytest.approx(-lr))
  assert _updates("finetune") == (pytest.approx(-lr), pytest.approx(-lr))
