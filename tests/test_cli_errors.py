"""`video_flax.main` ends every bad command, config, dataset or workdir in one
line and exit code 1 or 2, before any training and without leaving a
workdir behind; `--debug` shows the traceback. The slow test feeds random
and malformed `--config.*` overrides (video_flax.tools.soak does more)."""
from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys

import pytest

import real_video_trees as trees
from conftest import REPO_ROOT
from video_flax import errors
from video_flax import preflight
from video_flax.data.prepare import encode
from video_flax.data.prepare import shards

TINY = ("--config=configs/csn.py", "--config.dataset.variant=tiny",
        "--config.train.num_steps=1", "--config.train.warmup_steps=0")


def _main(*flags: str, env: dict[str, str] | None = None
          ) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, "-m", "video_flax.main", *flags],
                        cwd=REPO_ROOT, capture_output=True, text=True,
                        timeout=300, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
  """A tiny prepared UCF-101 (no flow)."""
  root = str(tmp_path_factory.mktemp("UCF101"))
  trees.write_ucf101(root)
  out = os.path.join(str(tmp_path_factory.mktemp("prepared")), "ucf101")
  shards.prepare_dataset("ucf101", root, out, encode.PrepareOptions(
      fps=25, short_side=32, shard_size=4), progress=False)
  return out


def _cases(data: str) -> dict[tuple[str, ...], str]:
  real = ("--config=configs/csn.py", "--config.dataset.name=ucf101",
          f"--config.dataset.data_dir={data}")
  return {
      ("--config=configs/csn.py", "--config.train.foo=1"): "train.foo",
      ("--config=configs/csn.py:nope",): "unknown preset 'nope'",
      ("--config=configs/no_such_file.py",): "no_such_file.py",
      (*TINY, "--config.dataset.crop_size=100000"): "crop_size=100000",
      (*TINY, "--config.dataset.num_frames=1000"): "num_frames=1000",
      (*TINY, "--config.dataset.variant=nope"): "variant 'nope'",
      (*TINY, "--config.mesh.spatial=3"): "spatial=3",
      (*TINY, "--config.train.batch_size=abc"): "batch_size=abc",
      ("--config=configs/csn.py", "--config.dataset.name=ucf101",
       "--config.dataset.data_dir=/nonexistent"): "/nonexistent",
      ("--config=configs/i3d.py", *real[1:], "--config.dataset.streams=flow",
       "--config.model.name=i3d_flow_tiny"): "prepared without --flow",
      (*real, "--config.dataset.fold=4"): "fold",
      (*real, "--config.dataset.clip_sampling=nope"): "clip sampling preset",
  }


@pytest.mark.parametrize("index", range(12))
def test_bad_runs_end_in_one_line_before_training(prepared, tmp_path, index):
  flags, needle = list(_cases(prepared).items())[index]
  workdir = str(tmp_path / "workdir")
  proc = _main(*flags, f"--workdir={workdir}")
  lines = proc.stderr.strip().splitlines()
  assert proc.returncode == errors.USAGE_EXIT, proc.stderr
  assert len(lines) == 1 and needle in lines[0], proc.stderr
  assert not os.path.exists(workdir)


@pytest.mark.parametrize("variable,value", [
    ("VIDEO_FLAX_CPU_CONVS", "mkl"), ("VIDEO_FLAX_CONV_FORM", "fastest")])
def test_bad_environment_choice_ends_before_any_compute(tmp_path, variable,
                                                        value):
  """Not after the synthetic set is generated (the first jit used to find
  it): one line, no workdir."""
  workdir = str(tmp_path / "workdir")
  proc = _main("--config=configs/csn.py", f"--workdir={workdir}",
               env={variable: value})
  lines = proc.stderr.strip().splitlines()
  assert proc.returncode == errors.USAGE_EXIT, proc.stderr
  assert len(lines) == 1 and repr(value) in lines[0], proc.stderr
  assert not os.path.exists(workdir)


def test_debug_shows_the_traceback(tmp_path):
  proc = _main(*TINY, "--config.dataset.variant=nope", "--debug",
               f"--workdir={tmp_path / 'w'}")
  assert proc.returncode == errors.USAGE_EXIT and "Traceback" in proc.stderr


def test_unwritable_workdir_is_one_line(tmp_path):
  blocker = tmp_path / "file"
  blocker.write_text("not a folder")
  with pytest.raises(errors.UsageError, match="cannot be created"):
    preflight.check_workdir(str(blocker / "workdir"))


def test_full_disk_is_refused_before_training(tmp_path, monkeypatch):
  usage = shutil.disk_usage(tmp_path)
  monkeypatch.setattr(shutil, "disk_usage",
                      lambda _: usage._replace(free=10 * 2**20))
  state = {"w": __import__("numpy").zeros((2**20,), "float32")}  # 4 MiB
  with pytest.raises(errors.UsageError, match=r"10.0 MiB free.*3 checkpoints"):
    preflight.check_free_space(str(tmp_path), state, keep_checkpoints=2)
  preflight.check_free_space(str(tmp_path), state, keep_checkpoints=1)


@pytest.mark.slow
def test_random_config_overrides_never_traceback(tmp_path):
  from video_flax.tools import soak  # pylint: disable=g-import-not-at-top
  counts = soak.fuzz_configs(random.Random(0), 12, str(tmp_path))
  assert set(counts) <= set(soak.CLEAN_OUTCOMES), counts
