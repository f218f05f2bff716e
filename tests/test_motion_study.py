"""launch/motion_study.py: which Quo Vadis models see motion."""
from __future__ import annotations

import csv
import json
import os

import pytest

from launch import motion_study
from video_flax import config_validation
from video_flax import models


def test_every_entry_is_a_tiny_synthetic_preset_that_validates():
  for entry in motion_study.ENTRIES:
    config = motion_study.entry_config(entry, steps=7)
    assert config.model.name == entry.model
    assert config.dataset.name == "synthetic"
    assert config.train.num_steps == 7
    config_validation.validate(config)
  # Table 1's five architectures and a motion-blind control are in it.
  table1 = {"convnet_lstm_tiny", "c3d_bn_tiny", "two_stream_late_fusion_tiny",
            "two_stream_3d_fused_tiny", "two_stream_i3d_tiny"}
  assert table1 <= set(motion_study.BY_MODEL) <= set(models.MODELS)
  assert any(e.motion_blind for e in motion_study.ENTRIES)


def test_unknown_model_is_named_before_training(tmp_path):
  with pytest.raises(ValueError, match="unknown \\['i3d'\\]"):
    motion_study.run_study(["i3d"], steps=1, out=str(tmp_path))


def test_finished_runs_are_skipped_and_tabulated(tmp_path, capsys):
  """A run with results.json is not trained again; the table and CSV list it
  (a run of the slow test below trains for real)."""
  out = str(tmp_path)
  workdir = os.path.join(out, "i3d_flow_tiny", "pretrain")
  os.makedirs(workdir)
  with open(os.path.join(workdir, "results.json"), "w") as f:
    json.dump({"top1": 0.9, "top5": 1.0, "mean_class_accuracy": 0.875,
               "per_class_accuracy": [0.875] * 12}, f)
  with open(os.path.join(workdir, "study_cell.json"), "w") as f:
    json.dump({"steps": 2, "wall_s": 3.0}, f)
  rows = motion_study.run_study(["i3d_flow_tiny"],
                                steps=2, out=out, command="the command")
  assert "skip i3d_flow_tiny/pretrain: results.json exists" in (
      capsys.readouterr().out)
  assert [(r["model"], r["top1"], r["motion_blind"], r["chance"])
          for r in rows] == [("i3d_flow_tiny", 0.9, False, 1 / 12)]
  with open(os.path.join(out, "results.csv")) as f:
    records = list(csv.DictReader(f))
  assert list(records[0]) == list(motion_study.CSV_COLUMNS)
  assert [(r["top1"], r["motion_blind"], r["wall_s"]) for r in records] == [
      ("0.9", "False", "3.0")]
  with open(os.path.join(out, "table.md")) as f:
    table = f.read()
  assert "`the command`" in table and "chance 8.3%" in table
  assert ("| i3d_flow_tiny | flow clip (inflated 3D convs) | no | 90.0 | "
          "100.0 | 87.5 | 2 | 3 |") in table


@pytest.mark.slow
def test_flow_models_learn_motion_and_a_frame_at_a_time_does_not(tmp_path):
  """The paper's story on the synthetic set (2000 steps each, ~6 min; gates
  CI): the
  per-frame 2D network stays near chance, flow I3D and late fusion learn."""
  rows = {r["model"]: r for r in motion_study.run_study(
      ["inception_v1_2d_tiny", "i3d_flow_tiny", "two_stream_late_fusion_tiny"],
      steps=2000, out=str(tmp_path))}
  chance = rows["i3d_flow_tiny"]["chance"]
  assert rows["inception_v1_2d_tiny"]["top1"] < chance + 0.07
  assert rows["i3d_flow_tiny"]["top1"] > 0.9
  assert rows["two_stream_late_fusion_tiny"]["top1"] > 0.8
