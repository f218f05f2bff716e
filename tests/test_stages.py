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


def test_mesh_model_axis_rejected_until_it_does_something():
  config = base_config.get_base_config()
  config.mesh.model = 2
  assert "mesh.model=2: model parallelism is not implemented" in _problems(
      config)


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
