"""End-to-end trainer behaviour on tiny runs: resume, transfer stages, errors."""
from __future__ import annotations

import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from conftest import REPO_ROOT
from train_configs import tiny_train_config
from video_flax import transfer
from video_flax import train


def _final_variables(workdir: str) -> dict:
  return transfer.load_variables(workdir)


def _assert_trees_equal(a, b):
  la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
  assert len(la) == len(lb) and la
  for x, y in zip(la, lb):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
  """A finished 4-step run: the uninterrupted reference and a source for
  transfer."""
  workdir = str(tmp_path_factory.mktemp("pretrain"))
  results = train.train_and_evaluate(tiny_train_config(), workdir)
  return workdir, results


def test_run_writes_results_and_tensorboard(pretrained):
  workdir, results = pretrained
  assert 0.0 <= results["top1"] <= 1.0
  assert results["num_examples"] == 36  # every test clip exactly once
  assert len(results["per_class_accuracy"]) == 12
  assert os.path.exists(os.path.join(workdir, "results.json"))
  assert any(f.startswith("events") for f in
             os.listdir(os.path.join(workdir, "tensorboard")))


def test_interrupted_and_resumed_equals_uninterrupted(pretrained, tmp_path):
  reference, _ = pretrained
  workdir = str(tmp_path / "resumed")
  config = tiny_train_config(**{"train.checkpoint_every_steps": 1})
  assert train.train_and_evaluate(config, workdir, stop_at_step=3) == {}
  # The killed run left step 3 as its last checkpoint; resume from it.
  train.train_and_evaluate(config, workdir)
  _assert_trees_equal(_final_variables(workdir), _final_variables(reference))


def test_fixed_stage_freezes_backbone_and_bn(pretrained, tmp_path):
  source, _ = pretrained
  workdir = str(tmp_path / "fixed")
  config = tiny_train_config(**{"transfer.stage": "fixed",
                                "transfer.init_from": source,
                                "train.learning_rate": 0.5})
  train.train_and_evaluate(config, workdir)
  before, after = _final_variables(source), _final_variables(workdir)
  _assert_trees_equal(after["batch_stats"], before["batch_stats"])
  _assert_trees_equal({k: v for k, v in after["params"].items() if k != "head"},
                      {k: v for k, v in before["params"].items() if k != "head"})
  assert not np.array_equal(after["params"]["head"]["kernel"],
                            before["params"]["head"]["kernel"])


def test_finetune_stage_moves_backbone(pretrained, tmp_path):
  source, _ = pretrained
  workdir = str(tmp_path / "finetune")
  config = tiny_train_config(**{"transfer.stage": "finetune",
                                "transfer.init_from": source,
                                "transfer.backbone_lr_multiplier": 0.1})
  train.train_and_evaluate(config, workdir)
  before, after = _final_variables(source), _final_variables(workdir)
  moved = [not np.array_equal(a, b) for a, b in
           zip(jax.tree.leaves(after["params"]), jax.tree.leaves(before["params"]))]
  assert all(moved)


def _main(*flags: str) -> subprocess.CompletedProcess:
  return subprocess.run(
      [sys.executable, "-m", "video_flax.main", "--config=configs/csn.py",
       *flags], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)


def test_unknown_config_key_rejected_before_compute(tmp_path):
  proc = _main(f"--workdir={tmp_path}", "--config.train.bacth_size=8")
  assert proc.returncode != 0
  assert "bacth_size" in proc.stderr
  assert not os.path.exists(os.path.join(tmp_path, "checkpoints"))


def test_unusable_config_values_all_named(tmp_path):
  proc = _main(f"--workdir={tmp_path}", "--config.model.name=no_such_net",
               "--config.train.optimizer=adagrad",
               "--config.transfer.stage=fixed")
  assert proc.returncode != 0
  for needle in ("no_such_net", "adagrad", "transfer.init_from"):
    assert needle in proc.stderr, proc.stderr[-2000:]
  assert "Traceback" not in proc.stderr
  assert not os.path.exists(os.path.join(tmp_path, "checkpoints"))
