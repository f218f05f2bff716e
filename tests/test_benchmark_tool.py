"""video_flax/tools/benchmark.py on a tiny model (CPU)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import jax.numpy as jnp
import pytest

from conftest import REPO_ROOT
from video_flax import models
from video_flax.models import model_size
from video_flax.tools import benchmark


def test_benchmark_times_the_model_in_the_asked_dtype(monkeypatch):
  built = []
  build = models.build_model

  def recording_build(name, num_classes, **kwargs):
    built.append(kwargs.get("dtype"))
    return build(name, num_classes, **kwargs)

  monkeypatch.setattr(models, "build_model", recording_build)
  r = benchmark.benchmark("c3d_bn_tiny", (4, 16, 16), batch_size=2,
                          num_classes=3, iters=1, dtype="bfloat16")
  # MACs are counted on the float32 model; the timed one computes in bf16.
  assert built == [None, jnp.bfloat16]
  macs = model_size.count_macs(build("c3d_bn_tiny", 3), (4, 16, 16),
                               batch_size=1)
  assert r["gmacs_per_clip"] == pytest.approx(macs / 1e9)
  for key in ("forward_clips_per_s", "train_clips_per_s"):
    assert r[key] > 0


def test_command_line_prints_one_json_line():
  """The documented command (python -m video_flax.tools.benchmark) runs."""
  result = subprocess.run(
      [sys.executable, "-m", "video_flax.tools.benchmark",
       "--model=c3d_bn_tiny", "--shape=4,16,16", "--batch_size=2",
       "--num_classes=3", "--iters=1", "--notrain", "--json"],
      cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
      env=dict(os.environ, JAX_PLATFORMS="cpu"))
  assert result.returncode == 0, result.stderr[-3000:]
  line = json.loads(result.stdout.strip().splitlines()[-1])
  assert line["forward_clips_per_s"] > 0 and "train_clips_per_s" not in line
