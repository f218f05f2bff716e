"""The transfer study launcher: cell plan, derived configs, report, reruns."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import ml_collections
import pytest
from absl import flags
from ml_collections import config_flags

from configs import transfer_study as transfer_study_configs
from conftest import REPO_ROOT
from launch import study_plan
from launch import study_report
from video_flax import config_validation


def _study(preset: str) -> ml_collections.ConfigDict:
  """The locked study config `--config=configs/transfer_study.py:<preset>`
  gives the launcher (existing fields stay assignable)."""
  flag_values = flags.FlagValues()
  holder = config_flags.DEFINE_config_file("config", flag_values=flag_values,
                                           lock_config=True)
  path = os.path.join(REPO_ROOT, "configs", "transfer_study.py")
  flag_values(["launch", f"--config={path}:{preset}"])
  return holder.value


def test_miniature_plan_and_derived_configs():
  study = _study("miniature")
  cells = study_plan.plan_cells(study)
  assert [c.relative_dir for c in cells[:4]] == [
      "ir_csn_tiny/pretrain", "ir_csn_tiny/target_a/scratch",
      "ir_csn_tiny/target_a/fixed", "ir_csn_tiny/target_a/finetune"]
  assert len(cells) == 2 * (1 + 2 * 3)
  out = "/study"
  for cell in cells:
    config = study_plan.cell_config(study, cell, out)
    schedule = study.schedules[cell.stage]
    assert config.model.name == study.models[cell.arch].model_name
    assert config.transfer.stage == cell.stage
    assert config.train.num_steps == schedule.num_steps
    assert config.train.learning_rate == schedule.learning_rate
    expected_variant = "pretrain" if cell.stage == "pretrain" else cell.target
    assert config.dataset.variant == expected_variant
    expected_init = (f"/study/{cell.arch}/pretrain"
                     if cell.stage in ("fixed", "finetune") else "")
    assert config.transfer.init_from == expected_init
  # Shared trainer settings are untouched.
  assert config.train.batch_size == study.trainer.train.batch_size


@pytest.mark.parametrize("preset", list(transfer_study_configs.PRESETS))
def test_every_preset_plans_cells_that_validate(preset):
  study = _study(preset)
  for cell in study_plan.plan_cells(study):
    study_plan.cell_config(study, cell, "/study")  # raises if invalid


def test_study_argument_takes_a_preset_and_no_options():
  with pytest.raises(flags.IllegalFlagValueError,
                     match="transfer_study argument 'smoke,stage=fixed': "
                           "unknown option 'stage'. Presets: miniature, "
                           "smoke, kinetics_ucf_hmdb; options: none"):
    _study("smoke,stage=fixed")


def test_real_preset_folds_each_get_a_workdir():
  study = _study("kinetics_ucf_hmdb")
  study.datasets.ucf101.folds = (1, 2, 3)
  study.architectures = ("i3d_rgb",)
  cells = study_plan.plan_cells(study)
  ucf = [c for c in cells if c.target == "ucf101"]
  assert len(ucf) == 9 and {c.fold for c in ucf} == {1, 2, 3}
  config = study_plan.cell_config(
      study, study_plan.Cell("i3d_rgb", "ucf101", "fixed", 2), "/s")
  assert config.dataset.fold == 2 and config.dataset.name == "ucf101"
  assert config.dataset.clip_sampling == "i3d"
  assert config.transfer.init_from == "/s/i3d_rgb/pretrain"
  assert study_plan.Cell("i3d_rgb", "ucf101", "fixed", 2).relative_dir == \
      "i3d_rgb/ucf101/fixed/fold2"
  pretrain = study_plan.cell_config(study, cells[0], "/s")
  assert pretrain.dataset.name == "kinetics"
  assert pretrain.dataset.eval_split == "val"


def test_bad_study_lists_every_problem():
  study = _study("miniature")
  study.architectures = ("ir_csn_tiny", "no_such_arch")
  study.stages = ("scratch", "frozen")
  study.datasets.target_a.folds = (1,)
  with pytest.raises(config_validation.ConfigError) as err:
    study_plan.plan_cells(study)
  message = str(err.value)
  assert "'no_such_arch' is not a key of models" in message
  assert "'frozen'" in message
  assert "datasets.target_a.folds=(1,): synthetic has folds ()" in message


def _row(arch, target, stage, fold, top1):
  return study_report.Row(arch, target, stage, fold, top1=top1, top5=1.0,
                          mean_class_acc=top1, steps=10, wall_s=1.0,
                          num_classes=4)


def test_table_averages_folds_and_marks_missing_ones():
  rows = [_row("a", "pretrain", "pretrain", None, 0.9),
          _row("a", "ucf", "scratch", 1, 0.5),
          _row("a", "ucf", "scratch", 2, 0.6),
          _row("a", "ucf", "scratch", 3, 0.7),
          _row("a", "ucf", "fixed", 1, 0.25),
          _row("a", "ucf", "fixed", 3, 0.5)]
  table = study_report.markdown_table(rows, ["a", "b"], ["ucf"],
                                      ["scratch", "fixed", "finetune"],
                                      {"ucf": (1, 2, 3)})
  lines = table.splitlines()
  assert lines[0] == ("| architecture | ucf scratch | ucf fixed | "
                      "ucf finetune |")
  assert lines[2] == "| a | 60.0 | 37.5 (2/3) | - |"
  assert lines[3] == "| b | - | - | - |"
  notes = study_report.table_notes(rows, ["a"], ["ucf"], {"ucf": (1, 2, 3)})
  assert "a 90.0" in notes and "ucf 25.0" in notes
  assert "mean over folds 1, 2, 3" in notes


def test_rows_take_video_level_metrics_of_multiview_tests(tmp_path):
  cell = study_plan.Cell("a", "ucf101", "fixed", 1)
  os.makedirs(cell.workdir(str(tmp_path)))
  view_level = {"top1": 0.5, "top5": 0.9, "mean_class_accuracy": 0.5,
                "per_class_accuracy": [0.5] * 4}
  video_level = {"top1": 0.75, "top5": 1.0, "mean_class_accuracy": 0.7,
                 "per_class_accuracy": [0.7] * 4}
  with open(os.path.join(cell.workdir(str(tmp_path)), "results.json"),
            "w") as f:
    json.dump({**view_level, "video": video_level}, f)
  row = study_report.read_row(cell, str(tmp_path), planned_steps=7)
  assert (row.top1, row.top5, row.mean_class_acc) == (0.75, 1.0, 0.7)
  assert (row.steps, row.wall_s, row.num_classes, row.fold) == (7, None, 4, 1)
  assert study_report.read_row(study_plan.Cell("a", "ucf101", "scratch", 1),
                               str(tmp_path), planned_steps=7) is None


def _run_study(out, *flags):
  # Unoptimised XLA code: compiling dominates these 2-step runs.
  xla_flags = (os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization"
               "_level=0 --xla_llvm_disable_expensive_passes=true")
  env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS=xla_flags.strip())
  result = subprocess.run(
      [sys.executable, "-m", "launch.transfer_study",
       "--config=configs/transfer_study.py:smoke", f"--out={out}",
       *flags],
      cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-4000:]
  return result.stdout


@pytest.mark.slow  # ~1 min: trains every stage of a tiny study
def test_smoke_study_writes_outputs_and_rerun_skips(tmp_path):
  out = str(tmp_path)
  # One target keeps the test fast; the table tests above cover several.
  stdout = _run_study(out, "--config.targets=target_a")
  dirs = ["frame2d_tiny/pretrain", "frame2d_tiny/target_a/scratch",
          "frame2d_tiny/target_a/fixed", "frame2d_tiny/target_a/finetune"]
  assert stdout.count("] run ") == 4
  with open(os.path.join(out, "results.csv")) as f:
    rows = list(csv.DictReader(f))
  assert [f"{r['arch']}/{r['target']}/{r['stage']}".replace(
      "pretrain/pretrain", "pretrain") for r in rows] == dirs
  for row, d in zip(rows, dirs):
    with open(os.path.join(out, d, "results.json")) as f:
      results = json.load(f)
    assert float(row["top1"]) == pytest.approx(results["top1"])
    assert float(row["mean_class_acc"]) == pytest.approx(
        results["mean_class_accuracy"])
    assert row["steps"] == "2" and row["fold"] == ""
    assert float(row["wall_s"]) > 0
  with open(os.path.join(out, "table.md")) as f:
    table = f.read()
  cells = [f"{100 * float(r['top1']):.1f}" for r in rows[1:]]
  assert "| frame2d_tiny | " + " | ".join(cells) + " |" in table
  with open(os.path.join(out, "table.png"), "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"

  # A finished study reruns as skips only; a cell without results.json (as
  # if killed during evaluation) resumes from its last checkpoint.
  mtimes = {d: os.path.getmtime(os.path.join(out, d, "results.json"))
            for d in dirs}
  os.remove(os.path.join(out, dirs[2], "results.json"))
  stdout = _run_study(out, "--config.targets=target_a")
  assert stdout.count("] skip ") == 3 and stdout.count("] run ") == 1
  assert f"run {dirs[2]}" in stdout and "Resumed from" in stdout
  for d in (dirs[0], dirs[1], dirs[3]):
    assert os.path.getmtime(os.path.join(out, d, "results.json")) == mtimes[d]
  with open(os.path.join(out, "results.csv")) as f:
    assert len(list(csv.DictReader(f))) == 4
