"""Input fuzzing: malformed and unusual videos through decode, prepare and the
training pipeline; prepare killed and rerun; bad prepare commands. Every case
ends in a clip of the right shape, a named skip, or one clear error line."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO_ROOT
from video_flax import base_config
from video_flax.data import pipeline
from video_flax import fault_injection as fi
from video_flax import fuzz_videos


@pytest.mark.parametrize("kind", fuzz_videos.KINDS)
def test_decode_never_fails_on_fuzzed_files(tmp_path, kind):
  rng = np.random.default_rng(list(fuzz_videos.KINDS).index(kind))
  for i in range(3):
    path = fuzz_videos.write_case(kind, str(tmp_path / f"case{i}"), rng)
    for short_side in (None, 24):
      outcome, detail = fuzz_videos.decode_outcome(path, short_side=short_side)
      assert outcome in ("decoded", "skipped"), (kind, path, detail)


def test_decode_of_every_cut_of_an_mp4_is_a_clip_or_a_skip(tmp_path):
  """Cut points across the whole file, including inside the codec setup
  (once an AttributeError escaped decode from there)."""
  rng = np.random.default_rng(0)
  whole = fuzz_videos.write_case("one_frame", str(tmp_path / "whole"), rng)
  with open(whole, "rb") as f:
    data = f.read()
  for cut in range(1, len(data), max(len(data) // 60, 1)):
    path = str(tmp_path / f"cut{cut}.mp4")
    with open(path, "wb") as f:
      f.write(data[:cut])
    outcome, detail = fuzz_videos.decode_outcome(path)
    assert outcome in ("decoded", "skipped"), (cut, detail)


@pytest.fixture(scope="module")
def fuzz_tree(tmp_path_factory):
  """A fuzzed UCF-101 tree and its uninterrupted preparation."""
  root = str(tmp_path_factory.mktemp("fuzz_ucf101"))
  count = fuzz_videos.write_ucf101_tree(root, np.random.default_rng(0))
  out = os.path.join(str(tmp_path_factory.mktemp("prepared")), "ucf101")
  assert fi.run(fi.prepare_command(root, out), out + ".log") == 0
  return root, out, count


def test_prepare_ends_every_fuzzed_video_in_a_record_or_a_named_skip(
    fuzz_tree):
  _, out, count = fuzz_tree
  with open(os.path.join(out, "info.json")) as f:
    info = json.load(f)
  with open(os.path.join(out, "skipped.json")) as f:
    skipped = json.load(f)
  assert info["num_records"] + len(skipped) == count
  assert {s["reason"] for s in skipped} <= {"truncated", "undecodable",
                                            "not_a_video", "zero_length"}
  cfg = base_config.get_base_config().dataset
  cfg.name, cfg.data_dir, cfg.num_frames, cfg.crop_size = "ucf101", out, 4, 16
  batch = next(iter(pipeline.make_train_iterator(cfg, global_batch_size=2,
                                                 seed=0)))
  assert batch["video"].shape == (2, 4, 16, 16, 3)
  assert np.isfinite(batch["video"]).all()


@pytest.mark.slow
def test_prepare_killed_and_rerun_gives_the_same_output(fuzz_tree, tmp_path):
  root, reference_out, _ = fuzz_tree
  reference = fi.prepared_files(reference_out)
  delay = random.Random(0).uniform(2.0, 6.0)
  hit, code, differing = fi.kill_prepare_and_rerun(
      root, str(tmp_path / "out"), reference, str(tmp_path / "log"),
      delay_s=delay)
  assert code == 0 and differing == [], (hit, differing)


def _prepare(*args: str) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, "-m", "video_flax.data.prepare",
                         "--dataset=ucf101", "--noprogress", *args],
                        cwd=REPO_ROOT, capture_output=True, text=True,
                        timeout=300)


def test_bad_prepare_commands_end_in_one_line(fuzz_tree, tmp_path):
  root, out, _ = fuzz_tree
  empty = tmp_path / "empty"
  empty.mkdir()
  cases = {
      (f"--root={tmp_path / 'nope'}", f"--out={tmp_path / 'o1'}"):
          "is not a directory",
      (f"--root={empty}", f"--out={tmp_path / 'o2'}"): "classInd.txt not found",
      (f"--root={root}", f"--out={out}", "--short_side=24", "--fps=30",
       "--min_frames=1", "--shard_size=2"): "different options",
      (f"--root={root}", f"--out={tmp_path / 'o3'}", "--fps=-5"): "--fps=-5",
  }
  for args, needle in cases.items():
    proc = _prepare(*args)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode in (1, 2) and len(lines) == 1, (args, proc.stderr)
    assert needle in lines[0] and "Traceback" not in proc.stderr
  assert not any(os.path.exists(tmp_path / o) for o in ("o1", "o2", "o3"))
