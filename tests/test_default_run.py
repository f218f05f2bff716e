"""The newcomer's first run, end to end (slow: ~3 min per default run,
~6 for the 2D control, on 2 idle CPU cores).

`python -m video_flax.main --config=configs/csn.py` must learn the synthetic
motion classes on every seed; a single-frame 2D network trained on the same
data must not, since a single frame of those clips carries no label
information.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run_main(workdir, *flags: str, config: str = "configs/csn.py") -> dict:
  env = dict(os.environ)
  env.setdefault("VIDEO_FLAX_DATA_DIR", "/tmp/video_flax_test_data")
  result = subprocess.run(
      [sys.executable, "-m", "video_flax.main", f"--config={config}",
       f"--workdir={workdir}", *flags],
      cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
  assert result.returncode == 0, result.stderr[-4000:]
  with open(os.path.join(workdir, "results.json")) as f:
    return json.load(f)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_run_learns_the_motion_classes(tmp_path, seed):
  results = _run_main(tmp_path, f"--config.seed={seed}")
  assert results["top1"] >= 0.90, results


@pytest.mark.slow
def test_single_frame_2d_network_stays_near_chance(tmp_path):
  results = _run_main(tmp_path, config="configs/resnet3d.py:frame2d_tiny")
  assert results["top1"] < 1 / 12 + 0.07, results
