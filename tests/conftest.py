"""Shared test setup: CPU only, a per-session synthetic data directory and
XLA compilation cache."""
from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("VIDEO_FLAX_DATA_DIR",
                      os.path.join(tempfile.gettempdir(), "video_flax_test_data"))
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
  # One persistent XLA cache per session (fresh, so never stale), shared with
  # the subprocess tests: the trainer tests compile the same tiny train and
  # eval steps many times (~25% of their time saved).
  _cache = tempfile.mkdtemp(prefix="video_flax_jax_cache_")
  os.environ["JAX_COMPILATION_CACHE_DIR"] = _cache
  atexit.register(shutil.rmtree, _cache, ignore_errors=True)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(code: str, *, devices: int = 1, timeout: int = 600,
               cwd: str = REPO_ROOT) -> subprocess.CompletedProcess:
  """Runs `code` in a fresh interpreter with `devices` fake CPU devices."""
  env = dict(os.environ)
  env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
  env["JAX_PLATFORMS"] = "cpu"
  return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env,
                        capture_output=True, text=True, timeout=timeout)
