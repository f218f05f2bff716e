"""Fault injection on real subprocess runs of `video_flax.main` (tiny model):
SIGTERM/SIGINT preemption, SIGKILL at random moments and during checkpoint
writes, and the workdir lock. Every rerun must end with the uninterrupted
run's final state, bit for bit. The soak command (video_flax.tools.soak)
runs the same cycles many more times."""
from __future__ import annotations

import os
import random
import re
import signal
import time

import pytest

from video_flax import workdir_lock
from video_flax import fault_injection as fi

STEPS, EVERY = 12, 4  # checkpoints at 4 and 8, the final one at 12


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("reference"))
  return fi.reference_state(workdir, workdir + ".log", num_steps=STEPS,
                            checkpoint_every=EVERY)


def _wait_for(log: str, pattern: str, proc, timeout: float = 600) -> None:
  deadline = time.monotonic() + timeout
  while time.monotonic() < deadline and proc.poll() is None:
    with open(log) as f:
      if re.search(pattern, f.read()):
        return
    time.sleep(0.01)
  raise AssertionError(f"{pattern!r} never appeared in {log}")


@pytest.mark.slow  # ~1 min (with the reference run); CI's gated phase
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_preemption_signal_saves_the_current_step_and_resumes(
    reference, tmp_path, sig):
  workdir, log = str(tmp_path / "run"), str(tmp_path / "run.log")
  command = fi.train_command(workdir, STEPS, EVERY)
  proc = fi.start(command, log)
  _wait_for(log, r"step +2/", proc)  # training, between checkpoints
  sent = time.monotonic()
  proc.send_signal(sig)
  assert proc.wait(timeout=120) == 0
  took = time.monotonic() - sent
  with open(log) as f:
    text = f.read()
  stopped = int(re.search(r"Stopped after step (\d+)", text).group(1))
  assert 2 <= stopped < STEPS and os.path.isdir(
      os.path.join(workdir, "checkpoints", str(stopped))), text
  assert took < 60, f"{sig.name}: {took:.1f} s to stop"
  assert not os.path.exists(os.path.join(workdir, "results.json"))
  assert fi.run(command, log) == 0
  with open(log) as f:
    assert f"at step {stopped}" in f.read()
  assert fi.differences(fi.saved_state(workdir), reference) == []


@pytest.mark.slow
def test_sigkill_during_a_checkpoint_write_loses_nothing(reference, tmp_path):
  outcome = fi.kill_and_rerun(
      str(tmp_path / "run"), reference, str(tmp_path / "run.log"),
      after_step=2, delay_s=0.0, during_save=True, num_steps=STEPS,
      checkpoint_every=EVERY)
  assert outcome.hit == "during a checkpoint write", outcome
  assert outcome.rerun_exit == 0 and outcome.differing == [], outcome
  assert outcome.checkpoints_verified >= 1


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing(reference, tmp_path):
  rng = random.Random(0)
  for i in range(4):
    outcome = fi.kill_and_rerun(
        str(tmp_path / f"kill{i}"), reference, str(tmp_path / f"kill{i}.log"),
        after_step=rng.randrange(0, STEPS, 2), delay_s=rng.uniform(0, 1),
        during_save=i % 2 == 1, num_steps=STEPS, checkpoint_every=EVERY)
    assert outcome.rerun_exit == 0 and outcome.differing == [], outcome


def test_second_run_on_a_workdir_refuses_and_a_killed_runs_lock_is_stale(
    tmp_path):
  workdir, log = str(tmp_path / "run"), str(tmp_path / "run.log")
  first = fi.start(fi.train_command(workdir, 200, 100), log)
  _wait_for(log, r"Training ", first)
  second = fi.start(fi.train_command(workdir, 200, 100), str(tmp_path / "2"))
  assert second.wait(timeout=300) == 1
  with open(tmp_path / "2") as f:
    lines = f.read().strip().splitlines()
  assert len(lines) == 1 and f"pid {first.pid}" in lines[0], lines
  first.kill()
  first.wait()
  with workdir_lock.hold(workdir):  # the dead run's lock is taken over
    pass
