"""The release soak command end to end, at its smallest (slow, gates CI)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import REPO_ROOT


@pytest.mark.slow
def test_smallest_soak_reports_every_section_and_loses_nothing(tmp_path):
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  result = subprocess.run(
      [sys.executable, "-m", "video_flax.tools.soak", "--kills=1",
       "--fuzz=8", f"--scratch={tmp_path}"],
      cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
  out = result.stdout
  assert result.returncode == 0, (out + result.stderr)[-4000:]
  for i, title in enumerate(
      ("training killed and rerun", "prepare", "video files fuzzed",
       "the same files through predict", "config overrides fuzzed"), 1):
    assert f"[{i}/5] {title} ..." in out, out
    assert f"== {title}\n" in out, out
  assert "1  kills survived (state bit-identical)" in out, out
  assert out.rstrip().endswith("== nothing lost"), out
