"""benchmarks/: the side-by-side suite against torchvision (needs torch)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from benchmarks import report
from video_flax import models
from video_flax.models import model_size

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("depth", [26, 152])
def test_torch_ir_csn_has_our_parameter_count(depth):
  pytest.importorskip("torchvision")
  from benchmarks.torch_csn import IrCsn
  theirs = sum(p.numel() for p in IrCsn(depth, 400).parameters())
  ours = model_size.count_params(models.build_model(f"ir_csn_{depth}", 400),
                            (8, 32, 32))
  assert theirs == ours


def test_report_derives_ratio_and_gflops_from_the_times():
  row = {"model": "m", "shape": [2, 4, 4], "batch": 2, "dtype": "float32",
         "task": "train", "macs": 1e9, "seconds": {"jax": 0.5, "torch": 1.0}}
  assert report.ratio(row) == 2.0
  assert report.gflops(row, "jax") == pytest.approx(6 * 1e9 * 2 / 0.5 / 1e9)
  record = {"command": "c", "rounds": 1, "roofline_size": 8,
            "roofline_gflops": {"float32": {"jax": 12.0, "torch": 48.0}},
            "machine": {"cpu": "x", "usable_cpus": 2, "logical_cpus": 2,
                        "memory_gib": 1, "os": "linux", "torch_threads": 2,
                        "devices": {"jax": ["cpu"], "torch": ["cpu"]},
                        "versions": {"jax": "1"}},
            "rows": [row]}
  # 24 GFLOP/s of the faster matmul's 48: 50%.
  assert "| **2.00x** | 24.0 (50%) | 12.0 (25%) |" in report.markdown(record)


@pytest.mark.slow
def test_quick_suite_times_both_frameworks_and_writes_the_page(tmp_path):
  pytest.importorskip("torchvision")
  result = subprocess.run(
      [sys.executable, "-m", "benchmarks.suite", "--quick",
       "--models=r3d_18", "--dtypes=float32", "--throughput_batch=1",
       "--rounds=1", f"--out_dir={tmp_path}"],
      cwd=REPO, capture_output=True, text=True, timeout=900)
  assert result.returncode == 0, result.stderr[-3000:]
  with open(tmp_path / "benchmarks.json") as f:
    record = json.load(f)
  assert [(r["batch"], r["task"]) for r in record["rows"]] == [
      (1, "forward"), (1, "train")]
  for row in record["rows"]:
    assert row["seconds"]["jax"] > 0 and row["seconds"]["torch"] > 0
    assert row["macs"] > 0
  assert set(record["roofline_gflops"]["float32"]) == {"jax", "torch"}
  page = (tmp_path / "benchmarks.md").read_text()
  assert record["machine"]["cpu"] in page and "| r3d_18 | 4x32x32 | 1 |" in page


def test_profile_step_sums_thunks_by_kind(tmp_path):
  """The per-thunk table: runtime and Python spans left out, `.N` suffixes
  folded into kinds; on a real step the trace has XLA:CPU's thunks."""
  from benchmarks import jax_side  # pylint: disable=g-import-not-at-top
  from benchmarks import profile_step  # pylint: disable=g-import-not-at-top
  events = [{"ph": "X", "name": "transpose_copy_fusion.3", "dur": 2000},
            {"ph": "X", "name": "transpose_copy_fusion", "dur": 1000},
            {"ph": "X", "name": "$api.py:2479 block_until_ready", "dur": 5},
            {"ph": "X", "name": "ThunkExecutor::Execute", "dur": 9},
            {"ph": "X", "name": "end: transpose_copy_fusion", "dur": 1},
            {"ph": "i", "name": "dot.1"}]
  times = profile_step.thunk_times(events)
  assert times == {"transpose_copy_fusion.3": 2.0,
                   "transpose_copy_fusion": 1.0}
  assert profile_step.by_kind(times) == {"transpose_copy_fusion": (3.0, 2)}
  run = jax_side.setup("ir_csn_tiny", (2, 16, 16), 1, "float32", "train")
  times, wall = profile_step.profile(run, str(tmp_path))
  assert wall > 0 and {"dot", "ynn_fusion"} & set(profile_step.by_kind(times))
  cli = subprocess.run(
      [sys.executable, "-m", "benchmarks.profile_step", "--model=ir_csn_tiny",
       "--shape=2,16,16", "--top=3"], cwd=REPO, capture_output=True,
      text=True, timeout=300)
  assert cli.returncode == 0, cli.stderr[-2000:]
  assert "one step" in cli.stdout and "kind" in cli.stdout, cli.stdout
