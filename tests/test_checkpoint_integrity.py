"""A corrupt or half-saved latest checkpoint is detected at restore (checksums
written at save), named, moved aside, and the previous one is used; with no
usable checkpoint the run stops and nothing is moved or deleted."""
from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from train_configs import tiny_train_config
from video_flax import checkpoint_integrity
from video_flax import checkpointing
from video_flax import train

CONFIG = tiny_train_config(**{"train.checkpoint_every_steps": 1,
                              "train.num_steps": 6})


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory):
  """A run stopped after step 3: checkpoints 2 and 3 (keep_checkpoints=2)."""
  workdir = str(tmp_path_factory.mktemp("stopped"))
  assert train.train_and_evaluate(CONFIG, workdir, stop_at_step=3) == {}
  return workdir


def _largest_file(folder: str) -> str:
  files = [os.path.join(r, n) for r, _, ns in os.walk(folder) for n in ns]
  return max(files, key=os.path.getsize)


def _truncate(step_dir):
  path = _largest_file(os.path.join(step_dir, "state"))
  with open(path, "r+b") as f:
    f.truncate(os.path.getsize(path) // 2)


def _flip_bytes(step_dir):
  """Random bytes over 4 KB of a data file, size unchanged."""
  path = _largest_file(os.path.join(step_dir, "state"))
  with open(path, "r+b") as f:
    f.seek(min(64, os.path.getsize(path) // 2))
    f.write(np.random.default_rng(0).bytes(min(4096, os.path.getsize(path) // 4)))


def _iterator_garbage(step_dir):
  folder = os.path.join(step_dir, checkpointing.DATA_ITER)
  name = next(n for n in os.listdir(folder) if n.endswith(".json"))
  with open(os.path.join(folder, name), "w") as f:
    f.write("{not json")


CORRUPTIONS = {
    "truncated data file": _truncate,
    "random bytes in a data file": _flip_bytes,
    "missing _METADATA": lambda d: os.remove(os.path.join(d, "state",
                                                          "_METADATA")),
    "garbage in the iterator state": _iterator_garbage,
    "missing state/": lambda d: shutil.rmtree(os.path.join(d, "state")),
    "no manifest (save interrupted)": lambda d: os.remove(
        os.path.join(d, checkpoint_integrity.MANIFEST)),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_corrupt_latest_falls_back_to_previous(stopped_run, tmp_path, capsys,
                                               corruption):
  workdir = str(tmp_path / "run")
  shutil.copytree(stopped_run, workdir)
  step3 = os.path.join(workdir, "checkpoints", "3")
  CORRUPTIONS[corruption](step3)
  assert train.train_and_evaluate(CONFIG, workdir, stop_at_step=4) == {}
  out = capsys.readouterr().out
  assert f"{step3} is unusable" in out and "Falling back to checkpoint 2" in out
  assert "at step 2" in out
  aside = os.listdir(os.path.join(workdir, checkpointing.UNUSABLE_DIR))
  assert [name.split("-")[0] for name in aside] == ["3"]
  assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["3", "4"]


def test_no_usable_checkpoint_stops_and_deletes_nothing(stopped_run, tmp_path):
  workdir = str(tmp_path / "run")
  shutil.copytree(stopped_run, workdir)
  for step in ("2", "3"):
    _flip_bytes(os.path.join(workdir, "checkpoints", step))
  before = sorted(os.path.relpath(os.path.join(r, n), workdir)
                  for r, _, ns in os.walk(workdir) for n in ns)
  with pytest.raises(checkpointing.CheckpointError,
                     match="no usable checkpoint .* nothing was deleted"):
    train.train_and_evaluate(CONFIG, workdir)
  after = sorted(os.path.relpath(os.path.join(r, n), workdir)
                 for r, _, ns in os.walk(workdir) for n in ns)
  assert after == before
