"""Input fuzzing through predict: malformed and unusual videos (random bytes,
truncated containers, odd sizes, 0- and 1-frame, grayscale, 16-bit, variable
frame rate) and bad paths and options through `video_flax.predict` and
`video_flax.convert`. Every case ends in views of the weights' shape, or one
line naming the input and exit code 1 or 2; never a traceback."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import weights_fixtures
from conftest import REPO_ROOT
from video_flax import fuzz_videos
from video_flax import video_views
from video_flax.data.prepare import decode as video_decode

SKIP_REASONS = {"truncated", "undecodable", "not_a_video", "zero_length",
                "unsupported_format", "missing"}


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
  """Tiny weights (4 frames 2 apart, 16x16 crops, 2 clips) and two files of
  every fuzz kind."""
  root = tmp_path_factory.mktemp("predict_fuzz")
  info = weights_fixtures.save_tiny_weights(str(root / "weights"),
                                            frame_stride=2)
  rng = np.random.default_rng(14)
  videos = [fuzz_videos.write_case(kind, str(root / f"{kind}{i}"), rng)
            for kind in fuzz_videos.KINDS for i in range(2)]
  return root, info, videos


@pytest.mark.parametrize("eval_crop,crops", [("center", 1), ("three", 3)])
def test_views_of_fuzzed_files_have_the_weights_shape_or_a_named_reason(
    fuzzed, eval_crop, crops):
  _, info, videos = fuzzed
  pre = weights_fixtures.tiny_info(frame_stride=2,
                                   eval_crop=eval_crop).preprocessing
  outcomes = {}
  for path in videos:
    try:
      views = video_views.sample_views(path, pre)
    except video_decode.VideoDecodeError as e:
      assert e.reason in SKIP_REASONS, (path, e.reason)
      outcomes[path] = e.reason
      continue
    assert views.clips == pre.eval_num_clips, path
    assert views.inputs["video"].shape == (2 * crops, 4, 16, 16, 3), path
    assert views.inputs["video"].dtype == np.float32, path
    assert np.isfinite(views.inputs["video"]).all(), path
    assert views.frames.dtype == np.uint8, path
    outcomes[path] = "views"
  kinds = {k: {o for p, o in outcomes.items() if f"/{k}" in p}
           for k in fuzz_videos.KINDS}
  for kind in ("odd_size", "one_frame", "grayscale", "sixteen_bit",
               "variable_frame_rate"):
    assert kinds[kind] == {"views"}, (kind, outcomes)
  assert "views" not in kinds["random_bytes"] | kinds["zero_frames"]


def _run(module: str, *args: str) -> subprocess.Popen:
  return subprocess.Popen([sys.executable, "-m", module, *args],
                          cwd=REPO_ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)


def test_predict_names_every_unusable_fuzzed_file_and_predicts_the_rest(
    fuzzed):
  root, info, videos = fuzzed
  inputs = videos + [str(root), str(root / "missing.mp4")]
  proc = _run("video_flax.predict", f"--weights={root / 'weights'}", "--json",
              *inputs)
  stdout, stderr = proc.communicate(timeout=600)
  assert proc.returncode == 1 and "Traceback" not in stderr, stderr[-3000:]
  out = json.loads(stdout)
  failed = [e["video"] for e in out["errors"]]
  predicted = [r["video"] for r in out["videos"]]
  assert sorted(failed + predicted) == sorted(inputs)
  assert str(root) in failed and str(root / "missing.mp4") in failed
  lines = stderr.strip().splitlines()
  assert lines[-1] == f"{len(failed)} of {len(inputs)} videos could not be read"
  assert [line.split(": ")[1] for line in lines[:-1]] == failed
  for result in out["videos"]:
    assert (result["clips"], result["crops"]) == (2, 1), result
    probabilities = [e["probability"] for e in result["top"]]
    assert len(probabilities) == 5 and abs(sum(probabilities) - 1) < 1e-6
  assert len(predicted) >= 10  # odd sizes, 1 frame, grey, 16-bit, VFR


def _bad_commands(root, video: str, tmp_path) -> list[tuple[tuple, str]]:
  """(module and arguments, a word the one error line must hold); the
  first four run in the default suite, the others in the slow one."""
  weights = f"--weights={root / 'weights'}"
  blocker = tmp_path / "a_file"
  blocker.write_bytes(b"x")
  junk = tmp_path / "junk.pth"
  junk.write_bytes(np.random.default_rng(0).bytes(3000))
  out = f"--output={tmp_path / 'out'}"
  return [
      (("video_flax.predict", video), "--weights"),
      (("video_flax.predict", weights, f"--visualize={blocker}/sheets", video),
       "--visualize="),
      (("video_flax.convert", "--source=nope"), "--source=nope"),
      (("video_flax.convert", "--source=torchvision", "--model=r3d_18",
        f"--input={junk}", out), "junk.pth"),
      (("video_flax.predict", weights), "VIDEO"),
      (("video_flax.predict", weights, "--top_k=0", video), "--top_k=0"),
      (("video_flax.predict", weights, "--batch_size=x", video), "batch_size"),
      (("video_flax.predict", weights, "--batch_size=0", video),
       "--batch_size=0"),
      (("video_flax.predict", weights, "--nope", video), "nope"),
      (("video_flax.predict", f"--weights={blocker}", video), "--weights="),
      (("video_flax.convert",), "--fetch"),
      (("video_flax.convert", "--source=torchvision", "--model=r3d_18",
        f"--input={tmp_path / 'missing.pth'}", out), "missing.pth"),
      (("video_flax.convert", "--fetch=torchvision:nope"), "nope"),
  ]


def _check_one_line_each(cases: list[tuple[tuple, str]]) -> None:
  running = [(_run(*args), args, needle) for args, needle in cases]
  for proc, args, needle in running:
    _, stderr = proc.communicate(timeout=600)
    lines = stderr.strip().splitlines()
    assert proc.returncode in (1, 2) and len(lines) == 1, (args, stderr)
    assert needle in lines[0] and "Traceback" not in stderr, (args, stderr)


def test_bad_predict_and_convert_commands_end_in_one_line(fuzzed, tmp_path):
  root, _, videos = fuzzed
  _check_one_line_each(_bad_commands(root, videos[-1], tmp_path)[:4])
  assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_more_bad_predict_and_convert_commands_end_in_one_line(fuzzed,
                                                                tmp_path):
  root, _, videos = fuzzed
  _check_one_line_each(_bad_commands(root, videos[-1], tmp_path)[4:])
  assert not (tmp_path / "out").exists()
