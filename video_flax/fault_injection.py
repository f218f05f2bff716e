"""Fault injection for the trainer: kill a tiny run, rerun it, compare.

A tiny training run (ir_csn_tiny on the `tiny` synthetic variant, 8x16x16
clips... see TINY_FLAGS) is started as a subprocess of `video_flax.main`,
stopped by a signal at a chosen moment (a random time, or while orbax is
writing a checkpoint: its temporary directory exists), rerun to the end,
and its final checkpoint (parameters, BN statistics, optimizer state, step)
compared bit for bit with an uninterrupted run's. Used by the tests (a few
kills) and by `video_flax.tools.soak` (many).
"""
from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from video_flax import checkpoint_integrity
from video_flax import checkpointing

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_FLAGS = ("--config=configs/csn.py", "--config.dataset.variant=tiny",
              "--config.train.batch_size=4", "--config.train.warmup_steps=1",
              "--config.train.log_every_steps=2", "--config.eval.batch_size=12",
              "--config.eval.precise_bn_batches=1")
_POLL_S = 0.002


def train_command(workdir: str, num_steps: int = 6, checkpoint_every: int = 2,
                  *extra: str) -> list[str]:
  """The command line of a tiny training run in `workdir`."""
  return [sys.executable, "-m", "video_flax.main", *TINY_FLAGS,
          f"--config.train.num_steps={num_steps}",
          f"--config.train.checkpoint_every_steps={checkpoint_every}",
          f"--workdir={workdir}", *extra]


def start(command: list[str], log: str) -> subprocess.Popen:
  """Starts `command` in the repo root, stdout and stderr appended to `log`."""
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  env.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=1")
  os.makedirs(os.path.dirname(os.path.abspath(log)), exist_ok=True)
  with open(log, "a") as f:
    return subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=f,
                            stderr=subprocess.STDOUT)


def run(command: list[str], log: str, timeout: float = 900) -> int:
  """Runs `command` to its end; returns the exit code."""
  return start(command, log).wait(timeout=timeout)


def _saving(workdir: str) -> bool:
  """Whether orbax is writing a checkpoint (a temporary step dir exists)."""
  directory = checkpointing.checkpoint_dir(workdir)
  return os.path.isdir(directory) and any(
      "tmp" in name for name in os.listdir(directory))


def _logged(log: str, step: int) -> bool:
  with open(log) as f:
    return f"step {step:>6}/" in f.read()


def kill_when(proc: subprocess.Popen, workdir: str, log: str, *,
              after_step: int, delay_s: float, during_save: bool,
              sig: int = signal.SIGKILL) -> str:
  """Sends `sig` `delay_s` seconds after the log shows step `after_step`
  (0: after the start), or (during_save) at the first checkpoint write after
  that; returns when it hit: 'during a checkpoint write', 'between writes',
  or 'after exit' when the run ended first."""
  while proc.poll() is None and after_step and not _logged(log, after_step):
    time.sleep(_POLL_S)
  deadline = time.monotonic() + delay_s
  while proc.poll() is None and (time.monotonic() < deadline or (
      during_save and not _saving(workdir))):
    time.sleep(_POLL_S)
  if proc.poll() is not None:
    return "after exit"
  proc.send_signal(sig)
  hit = _saving(workdir)
  proc.wait(timeout=600)
  return "during a checkpoint write" if hit else "between writes"


def saved_state(workdir: str) -> dict[str, np.ndarray]:
  """The latest checkpoint's train state (verified), flattened to
  {'params/...': array}."""
  directory = checkpointing.checkpoint_dir(workdir)
  manager = ocp.CheckpointManager(directory, item_names=(
      checkpointing.STATE, checkpointing.DATA_ITER))
  step = manager.latest_step()
  problem = checkpoint_integrity.problem(os.path.join(directory, str(step)))
  if problem:
    raise AssertionError(f"{directory}/{step}: {problem}")
  restored = manager.restore(step, args=ocp.args.Composite(
      **{checkpointing.STATE: ocp.args.StandardRestore()}))
  leaves = jax.tree_util.tree_flatten_with_path(restored[checkpointing.STATE])
  return {jax.tree_util.keystr(path): np.asarray(x) for path, x in leaves[0]}


def differences(a: dict[str, np.ndarray], b: dict[str, np.ndarray]
                ) -> list[str]:
  """Names of the leaves that are not bitwise equal (or not in both)."""
  names = sorted(set(a) | set(b))
  return [n for n in names if n not in a or n not in b
          or a[n].dtype != b[n].dtype or a[n].shape != b[n].shape
          or a[n].tobytes() != b[n].tobytes()]


@dataclasses.dataclass
class KillOutcome:
  """One kill-and-rerun cycle."""
  hit: str  # when the signal hit (see kill_when)
  rerun_exit: int
  differing: list[str]
  checkpoints_verified: int


def kill_and_rerun(workdir: str, reference: dict[str, np.ndarray], log: str,
                   *, after_step: int, delay_s: float, during_save: bool,
                   num_steps: int = 6, checkpoint_every: int = 2
                   ) -> KillOutcome:
  """SIGKILLs a tiny run once (see kill_when), reruns it to the end and
  compares its final state with `reference` (an uninterrupted run's)."""
  command = train_command(workdir, num_steps, checkpoint_every)
  hit = kill_when(start(command, log), workdir, log, after_step=after_step,
                  delay_s=delay_s, during_save=during_save)
  code = run(command, log)
  differing = differences(saved_state(workdir), reference) if code == 0 else []
  directory = checkpointing.checkpoint_dir(workdir)
  verified = sum(checkpoint_integrity.problem(os.path.join(directory, d)) is None
                 for d in os.listdir(directory) if d.isdigit())
  return KillOutcome(hit, code, differing, verified)


def reference_state(workdir: str, log: str, **kwargs: Any
                    ) -> dict[str, np.ndarray]:
  """Runs a tiny run uninterrupted; its final state."""
  code = run(train_command(workdir, **kwargs), log)
  if code:
    raise AssertionError(f"reference run failed ({code}); see {log}")
  return saved_state(workdir)


def prepare_command(root: str, out: str, *extra: str) -> list[str]:
  """`video_flax.data.prepare` of a UCF-101 tree, small and in-process."""
  return [sys.executable, "-m", "video_flax.data.prepare", "--dataset=ucf101",
          f"--root={root}", f"--out={out}", "--short_side=24", "--fps=25",
          "--min_frames=1", "--shard_size=2", "--num_workers=1",
          "--noprogress", *extra]


def prepared_files(out: str) -> dict[str, bytes]:
  """Every output file of a preparation, by relative path (the .done.json
  markers, whose content is in skipped.json/splits.json, left out)."""
  found = {}
  for root, _, names in os.walk(out):
    for name in names:
      if not name.endswith(".done.json"):
        path = os.path.join(root, name)
        with open(path, "rb") as f:
          found[os.path.relpath(path, out)] = f.read()
  return found


def kill_prepare_and_rerun(root: str, out: str, reference: dict[str, bytes],
                           log: str, *, delay_s: float) -> tuple[str, int, list[str]]:
  """SIGKILLs a preparation after `delay_s`, reruns it; (when it hit, the
  rerun's exit code, files that differ from `reference`)."""
  command = prepare_command(root, out)
  proc = start(command, log)
  deadline = time.monotonic() + delay_s
  while proc.poll() is None and time.monotonic() < deadline:
    time.sleep(_POLL_S)
  hit = "after exit" if proc.poll() is not None else "while preparing"
  proc.kill()
  proc.wait()
  code = run(command, log)
  files = prepared_files(out)
  differing = sorted(k for k in set(files) | set(reference)
                     if files.get(k) != reference.get(k))
  return hit, code, differing
