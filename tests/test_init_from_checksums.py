"""Weights that start a run (`transfer.init_from`) are checked against the
checksums recorded when they were written: a trained checkpoint's SHA-256
manifest, a converted-weights directory's variables_sha256. A flipped byte
is one clear error naming the file, never a silently different start."""
from __future__ import annotations

import json
import os

import jax
import numpy as np
import pytest

import weights_fixtures
from video_flax import checkpoint_integrity
from video_flax import checkpointing
from video_flax import transfer
from video_flax import weights
from video_flax.weights import format as weights_format


def _flip_byte(path: str) -> None:
  with open(path, "r+b") as f:
    f.seek(os.path.getsize(path) // 2)
    byte = f.read(1)
    f.seek(-1, os.SEEK_CUR)
    f.write(bytes([byte[0] ^ 0x40]))


def _variables(seed: int) -> dict:
  rng = np.random.default_rng(seed)
  return {"params": {"conv": {"kernel": rng.standard_normal(
              (3, 3, 3, 4, 8)).astype(np.float32)}},
          "batch_stats": {"bn": {"mean": rng.standard_normal(8).astype(
              np.float32)}}}


@pytest.fixture
def workdir(tmp_path):
  """A workdir with checkpoints 1 and 2 (variables of seeds 1 and 2)."""
  manager = checkpointing.make_manager(str(tmp_path), keep=3)
  for step in (1, 2):
    checkpointing.save(manager, step, {**_variables(step), "step": step},
                       None)
  manager.close()
  return tmp_path


def _largest_file(step_dir: str) -> str:
  files = [os.path.join(r, n) for r, _, names in os.walk(step_dir)
           for n in names if n != checkpoint_integrity.MANIFEST]
  return max(files, key=os.path.getsize)


def test_intact_checkpoint_loads_its_latest_or_named_step(workdir):
  for init_from, seed in ((str(workdir), 2),
                          (str(workdir / "checkpoints" / "1"), 1)):
    got = transfer.load_variables(init_from)
    jax.tree.map(np.testing.assert_array_equal, got, _variables(seed))


def test_flipped_byte_in_a_checkpoint_is_named_not_loaded(workdir):
  step_dir = str(workdir / "checkpoints" / "2")
  bad = _largest_file(step_dir)
  _flip_byte(bad)
  with pytest.raises(checkpointing.CheckpointError) as err:
    transfer.load_variables(str(workdir))
  message = str(err.value)
  assert step_dir in message and "SHA-256 mismatch" in message, message
  assert os.path.relpath(bad, step_dir) in message, message
  # No silent fallback to step 1; asked for explicitly, step 1 loads.
  got = transfer.load_variables(str(workdir / "checkpoints" / "1"))
  jax.tree.map(np.testing.assert_array_equal, got, _variables(1))


def test_checkpoint_without_a_manifest_is_refused(workdir):
  os.remove(workdir / "checkpoints" / "2" / checkpoint_integrity.MANIFEST)
  with pytest.raises(checkpointing.CheckpointError,
                     match="save did not finish"):
    transfer.load_variables(str(workdir / "checkpoints"))


def test_weights_dir_records_and_verifies_the_variables_digest(tmp_path):
  path = str(tmp_path / "w")
  weights_fixtures.save_tiny_weights(path)
  with open(os.path.join(path, weights_format.INFO_FILE)) as f:
    recorded = json.load(f)["variables_sha256"]
  assert len(recorded) == 64
  transfer.load_variables(path)  # intact: loads
  _flip_byte(os.path.join(path, weights_format.VARIABLES_FILE))
  for load in (weights.load, transfer.load_variables):
    with pytest.raises(ValueError, match="variables.msgpack is corrupt: its "
                       "SHA-256 differs") as err:
      load(path)
    assert path in str(err.value)
