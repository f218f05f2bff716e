"""Non-finite losses and gradients never reach the parameters; too many in a
row stop the run naming the steps and the last good checkpoint; results.json
is always valid JSON."""
from __future__ import annotations

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from train_configs import tiny_train_config
from video_flax import models
from video_flax import nonfinite
from video_flax import optim
from video_flax import sharding
from video_flax import train
from video_flax import fault_injection as fi


def test_a_nan_batch_changes_nothing_but_the_step():
  config = tiny_train_config()
  model = models.from_config(config.model, num_classes=12)
  tx = optim.make_stage_optimizer(config, optim.make_schedule(config.train))
  batch = {"video": np.full((4, 8, 16, 16, 3), np.nan, np.float32),
           "label": np.zeros((4,), np.int32)}
  mesh = sharding.make_mesh(config.mesh)
  state = train.create_train_state(model, tx, jax.random.key(0), batch, mesh)
  before = jax.device_get(state)
  step = jax.jit(lambda s, b: train.train_step(
      s, b, jax.random.key(1), model=model, tx=tx, num_classes=12,
      label_smoothing=0.0))
  new, metrics = step(state, batch)
  assert float(metrics["skipped"]) == 1.0 and int(new.step) == 1
  for name in ("params", "batch_stats", "opt_state"):
    for a, b in zip(jax.tree.leaves(getattr(before, name)),
                    jax.tree.leaves(jax.device_get(getattr(new, name)))):
      np.testing.assert_array_equal(a, b)
  batch["video"] = np.zeros_like(batch["video"])
  _, metrics = step(new, batch)
  assert float(metrics["skipped"]) == 0.0


def test_diverging_run_stops_naming_steps_and_checkpoint(tmp_path, capsys):
  workdir = str(tmp_path)
  config = tiny_train_config(**{"train.learning_rate": 1e30,
                                "train.num_steps": 12,
                                "train.max_nonfinite_in_a_row": 3})
  with pytest.raises(nonfinite.NonFiniteError,
                     match=r"steps \d+-\d+: 3 steps in a row .* last good "
                           r"checkpoint: .*checkpoints/\d+"):
    train.train_and_evaluate(config, workdir)
  assert "step skipped, parameters unchanged" in capsys.readouterr().out
  assert not os.path.exists(os.path.join(workdir, "results.json"))
  state = fi.saved_state(workdir)
  assert all(np.isfinite(v).all() for v in state.values()
             if np.issubdtype(v.dtype, np.floating))


def test_results_json_is_valid_json_even_for_nan():
  results = {"loss": float("nan"), "top1": 0.5, "per": [float("inf"), 1.0]}
  text = json.dumps(nonfinite.json_safe(results), allow_nan=False)
  assert json.loads(text) == {"loss": None, "top1": 0.5, "per": [None, 1.0]}
  with pytest.raises(nonfinite.NonFiniteError, match="params are not all"):
    nonfinite.check_state(train.TrainState(
        step=jnp.zeros(()), params={"w": jnp.array([jnp.nan])},
        batch_stats={}, opt_state=()), "test")
