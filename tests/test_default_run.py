"""The newcomer's first run, end to end (slow: ~3 min each on 2 CPU cores).

`python -m video_flax.main --config=configs/csn.py` must learn the synthetic
motion classes; the same run with a single-frame 2D network must not, since
a single frame of those clips carries no label information.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run_main(workdir, *flags: str) -> dict:
  env = dict(os.environ)
  env.setdefault("VIDEO_FLAX_DATA_DIR", "/tmp/video_flax_test_data")
  result = subprocess.run(
      [sys.executable, "-m", "video_flax.main", "--config=configs/csn.py",
       f"--workdir={workdir}", *flags],
      cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
  assert result.returncode == 0, result.stderr[-4000:]
  with open(os.path.join(workdir, "results.json")) as f:
    return json.load(f)


@pytest.mark.slow
def test_default_run_learns_the_motion_classes(tmp_path):
  results = _run_main(tmp_path)
  assert results["top1"] >= 0.90, results


@pytest.mark.slow
def test_single_frame_2d_network_stays_near_chance(tmp_path):
  """The same recipe (configs/csn.py's TINY_RECIPE) on the middle frame."""
  results = _run_main(tmp_path, "--config.model.name=frame2d_tiny")
  assert results["top1"] < 1 / 12 + 0.07, results
