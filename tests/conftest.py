"""Shared test setup: CPU only, a per-session synthetic data directory and
XLA compilation cache."""
from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

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


# Slow checks that CI's 90 minutes cannot hold besides the default suite and
# the gating slow ones (`pytest -m "slow and not release"`): every paper
# preset traced at full size, full-depth model builds and converters, the
# per-layer conv forms at paper widths. Single tests mark
# themselves `@pytest.mark.release` (e.g. the multi-host preemption resume).
# Run them before a release with `pytest -m release` (and the soak, README
# "Tests").
RELEASE_MODULES = frozenset({
    "test_configs.py", "test_resnet3d.py", "test_layers.py",
    "test_quo_vadis_models.py", "test_weights_convert_vmz.py",
    "test_weights_convert_i3d.py"})


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
  """Marks the slow tests of RELEASE_MODULES `release` (before `-m`
  selects)."""
  for item in items:
    if item.get_closest_marker("slow") and item.path.name in RELEASE_MODULES:
      item.add_marker(pytest.mark.release)
