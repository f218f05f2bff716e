"""Preemption with two local JAX processes (jax.distributed on localhost,
CPU): SIGTERM (or SIGINT) reaches ONE of them, both stop at the same step,
save that checkpoint together and exit 0; the rerun resumes there (no step
lost)."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import REPO_ROOT
from video_flax import checkpoint_integrity
from video_flax import fault_injection as fi

pytestmark = pytest.mark.multiprocess

STEPS = 30  # no periodic checkpoint: only the preemption one


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def _start_pair(workdir: str, logs: list[str]) -> list:
  port = _free_port()
  return [fi.start(fi.train_command(
      workdir, STEPS, 100, "--config.train.log_every_steps=1", "--multihost",
      f"--coordinator_address=localhost:{port}", "--num_processes=2",
      f"--process_id={i}"), log) for i, log in enumerate(logs)]


def _read(log: str) -> str:
  with open(log) as f:
    return f.read()


# A training loop without a model: every step an all-gather, then the check.
_LOOP = """
import sys, time
import jax, numpy as np
from jax.experimental import multihost_utils
from video_flax import preemption
jax.distributed.initialize(f"localhost:{sys.argv[1]}", 2, int(sys.argv[2]))
with preemption.handle_signals(jax.process_count()):
  stop = preemption.stop_check(jax.process_count())
  for step in range(1, 100000):
    multihost_utils.process_allgather(np.int32(step))
    if step == 20:
      print("ready", flush=True)
    time.sleep(0.01)
    if stop(step):
      print(f"stopped at {step} ({preemption.requested()})", flush=True)
      break
"""


@pytest.mark.parametrize("sig,target", [(signal.SIGTERM, 1),
                                        (signal.SIGINT, 0)])
def test_a_signal_to_one_process_stops_both_at_the_same_step(sig, target):
  port = _free_port()
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  procs = [subprocess.Popen([sys.executable, "-c", _LOOP, str(port), str(i)],
                            cwd=REPO_ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
           for i in range(2)]
  try:
    while (line := procs[target].stdout.readline()) != "ready\n":
      assert line, procs[target].communicate()  # ended before it was ready
    procs[target].send_signal(sig)
    outputs = [p.communicate(timeout=120) for p in procs]
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()
  assert [p.returncode for p in procs] == [0, 0], outputs
  steps = [re.findall(r"stopped at (\d+) \((\w+)\)", out)
           for out, _ in outputs]
  assert len(steps[0]) == len(steps[1]) == 1, outputs
  assert steps[0][0][0] == steps[1][0][0], steps  # the same step
  # SIGINT goes through our handler (passed on as SIGTERM); SIGTERM is
  # caught by JAX's preemption service alone.
  said = "SIGINT" if sig == signal.SIGINT else "None"
  assert steps[target][0][1] == said and steps[1 - target][0][1] == "None"


@pytest.mark.slow
@pytest.mark.release  # ~75 s of two processes; before a release
def test_sigterm_to_one_process_stops_both_at_one_step_and_resumes(
    tmp_path):
  workdir = str(tmp_path / "run")
  logs = [str(tmp_path / f"p{i}.log") for i in range(2)]
  procs = _start_pair(workdir, logs)
  try:
    deadline = time.monotonic() + 900
    while not re.search(r"step +3/", _read(logs[0])):
      assert time.monotonic() < deadline and procs[0].poll() is None, _read(
          logs[0])[-3000:]
      time.sleep(0.05)
    procs[1].send_signal(signal.SIGTERM)
    codes = [p.wait(timeout=600) for p in procs]
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()
  assert codes == [0, 0], _read(logs[1])[-3000:]
  stopped = [re.findall(r"Stopped after step (\d+)", _read(log))
             for log in logs]
  assert len(stopped[0]) == 1 and stopped[0] == stopped[1], stopped
  step = int(stopped[0][0])
  assert 3 <= step < STEPS
  step_dir = os.path.join(workdir, "checkpoints", str(step))
  assert checkpoint_integrity.problem(step_dir) is None
  assert sorted(os.listdir(os.path.dirname(step_dir))) == [str(step)]
  assert not os.path.exists(os.path.join(workdir, "results.json"))

  rerun_logs = [str(tmp_path / f"rerun{i}.log") for i in range(2)]
  assert [p.wait(timeout=900) for p in _start_pair(workdir, rerun_logs)
          ] == [0, 0], _read(rerun_logs[0])[-3000:]
  for log in rerun_logs:
    assert f"at step {step}\n" in _read(log), _read(log)[-3000:]
  assert f"step {step + 1:>6}/" in _read(rerun_logs[0])
  assert os.path.isfile(os.path.join(workdir, "results.json"))
