"""Two local JAX processes (jax.distributed on localhost, CPU, gloo) train
the tiny config together through `main --multihost`, checkpoint, stop and
resume; the result equals one process with the same global batch."""
from __future__ import annotations

import os
import socket
import subprocess
import sys

import jax
import numpy as np
import optax
import pytest

from conftest import REPO_ROOT
from video_flax import fault_injection
from video_flax import transfer

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow]

# Each process reads its own half of every global batch (pipeline.py: the
# union of the processes' batches is the one-process batch), so only the
# order of float sums differs from one process. Compared over the whole tree
# (L2), relative to what steps 3-4 changed: per leaf, BN biases that stay
# within 1e-4 of zero are all rounding (measured 1e-2 of such a leaf's max),
# while the whole update agrees to 3e-5 (parameters) and 2e-5 (precise-BN
# statistics). Reading the same half in both processes, or not averaging
# the gradients, moves the update by O(1).
TOLERANCE_BEFORE_RESUME = 1e-5  # step 2: |two - one| / |one|, measured 1e-7
TOLERANCE = 1e-3

# SGD with zero-initialised branches (the base recipe), not the default
# run's AdamW: Adam's m / sqrt(v) turns the rounding noise of a gradient
# that is ~0 into a step of the full learning rate, so two summation orders
# would differ by lr in such elements after one step.
_FLAGS = [*fault_injection.TINY_FLAGS, "--config.train.optimizer=sgd",
          "--config.train.learning_rate=0.2",
          "--config.train.weight_decay=1e-4",
          "--config.model.zero_init_residual=True"]


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def _main(workdir: str, num_steps: int, process_id: int | None = None,
          port: int = 0) -> subprocess.Popen:
  """`python -m video_flax.main` on one CPU device; one of two processes
  when `process_id` is given."""
  env = dict(os.environ, JAX_PLATFORMS="cpu",
             XLA_FLAGS="--xla_force_host_platform_device_count=1")
  args = [sys.executable, "-m", "video_flax.main", *_FLAGS,
          f"--workdir={workdir}", f"--config.train.num_steps={num_steps}",
          "--config.train.checkpoint_every_steps=2"]
  if process_id is not None:
    args += ["--multihost", f"--coordinator_address=localhost:{port}",
             "--num_processes=2", f"--process_id={process_id}"]
  return subprocess.Popen(args, cwd=REPO_ROOT, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _wait(procs: list[subprocess.Popen]) -> str:
  outputs = [p.communicate(timeout=900)[0] for p in procs]
  for p, out in zip(procs, outputs):
    assert p.returncode == 0, out[-3000:]
  return outputs[0]


def test_two_processes_train_checkpoint_resume_as_one(tmp_path):
  two, one = str(tmp_path / "two"), str(tmp_path / "one")
  port = _free_port()
  _wait([_main(two, 2, i, port) for i in range(2)])  # steps 1-2, checkpoint
  port = _free_port()
  out = _wait([_main(two, 4, i, port) for i in range(2)])  # resume: 3-4
  assert "Resumed from" in out and "at step 2" in out, out[-2000:]
  assert "2 devices" in out, out[-2000:]
  _wait([_main(one, 4)])
  # The two-process checkpoint restores in this one-device process.
  got, want = transfer.load_variables(two), transfer.load_variables(one)
  init = transfer.load_variables(os.path.join(one, "checkpoints", "2"))
  got_at_2 = transfer.load_variables(os.path.join(two, "checkpoints", "2"))
  for part in ("params", "batch_stats"):
    moved = _norm_diff(want[part], init[part])
    error = _norm_diff(got[part], want[part]) / moved
    assert moved > 1e-3 * _norm(want[part]), (part, moved)  # steps 3-4 moved
    assert error < TOLERANCE, (part, error)
  # Step 2 ended the first two-process run (its BN statistics are the
  # precise ones), so compare its parameters only.
  before = (_norm_diff(got_at_2["params"], init["params"])
            / _norm(init["params"]))
  assert before < TOLERANCE_BEFORE_RESUME, before


def _norm(tree) -> float:
  """L2 norm over every leaf of `tree`."""
  return float(optax.global_norm(tree))


def _norm_diff(a, b) -> float:
  """|a - b| over the whole tree (L2); a and b have one structure."""
  return _norm(jax.tree.map(np.subtract, a, b))
