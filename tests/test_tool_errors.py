"""Every tool's command line ends bad input in one line and exit 1 or 2,
before any compute (errors.run), never a traceback."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import REPO_ROOT

# (command, the words its one line must hold, exit code)
BAD_RUNS = [
    ("video_flax.tools.flops --model=nope", "Unknown model 'nope'", 1),
    ("video_flax.tools.benchmark --model=nope", "Unknown model 'nope'", 1),
    ("video_flax.tools.memory_table --cases=nope:1x2x3", "--cases", 2),
    ("video_flax.tools.model_table --measure=( --nospeed --output={tmp}/m.md",
     "missing )", 1),
    ("video_flax.tools.benchmark_layers --cases=nope", "unknown cases", 2),
    ("video_flax.tools.benchmark_data --presets=nope", "--presets", 2),
    ("video_flax.tools.benchmark_data --models=i3d=nope", "--models", 2),
    ("video_flax.tools.benchmark_flow --pairs=abc", "--pairs", 2),
    ("benchmarks.suite --models=nope", "--models: unknown ['nope']", 2),
    ("benchmarks.suite --dtypes=f16", "--dtypes: unknown ['f16']", 2),
    ("benchmarks.layers --cases=nope", "--cases: unknown ['nope']", 2),
]


@pytest.mark.parametrize("command,words,code", BAD_RUNS,
                         ids=[c.split()[0].rsplit(".", 1)[1] + ":" +
                              c.split()[1].split("=")[0] for c, _, _ in BAD_RUNS])
def test_bad_tool_input_is_one_line(command, words, code, tmp_path):
  if command.startswith("benchmarks.layers"):
    pytest.importorskip("torch")
  result = subprocess.run(
      [sys.executable, "-m", *command.format(tmp=tmp_path).split()],
      cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
      env={**os.environ, "JAX_PLATFORMS": "cpu"})
  lines = result.stderr.strip().splitlines()
  assert result.returncode == code, result.stderr[-2000:]
  assert "Traceback" not in result.stderr, result.stderr[-2000:]
  assert lines[-1].startswith("error: ") and words in lines[-1], lines
  assert result.stdout.strip() == "" or "Traceback" not in result.stdout
