"""`python -m video_flax.predict` on real video files, and the views it
samples."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import weights_fixtures
from conftest import REPO_ROOT
from video_flax import video_views
from video_flax import weights
from video_flax.data.prepare import video_writer

NUM_CLASSES = 5


@pytest.fixture(scope="module")
def files(tmp_path_factory):
  root = tmp_path_factory.mktemp("predict")
  info = weights_fixtures.save_tiny_weights(
      str(root / "weights"), NUM_CLASSES, frame_stride=2, eval_crop="three")
  weights_fixtures.write_index_video(str(root / "a.mp4"))
  weights_fixtures.write_index_video(str(root / "b.avi"))
  (root / "corrupt.mp4").write_bytes(os.urandom(3000))
  return root, info


def test_views_are_uniform_clips_times_three_crops(files):
  root, info = files
  views = video_views.sample_views(str(root / "b.avi"), info.preprocessing)
  # 12 frames, clips of 4 frames 2 apart (span 7): starts 0 and 5.
  assert views.clips == 2 and views.frames.shape == (6, 4, 16, 16, 3)
  grey = views.frames[::3, :, :, -1, 0].mean(axis=-1)  # right edge columns
  np.testing.assert_allclose(grey, 20 * np.array([[0, 2, 4, 6],
                                                  [5, 7, 9, 11]]) + 10,
                             atol=6)
  # Resized to 20x30 (bright columns 0-9); the 'three' 20x20 boxes start at
  # columns 0, 5 and 10 and are resized to 16x16: 8, 4 and 0 bright columns.
  bright = (views.frames[:3, 0, 8, :, 0] > 200).sum(axis=-1)
  np.testing.assert_allclose(bright, [8, 4, 0], atol=1)
  expected = ((views.frames / 255.0 - 0.45) / 0.225).astype(np.float32)
  np.testing.assert_allclose(views.inputs["video"], expected, atol=1e-5)


def test_normalize_bgr_and_minus_one_one():
  pre = weights.Preprocessing(num_frames=1, resize_short_side=2, crop_size=2,
                              mean=(0.1, 0.2, 0.3), std=(0.5, 0.25, 1.0),
                              channel_order="BGR", value_range=(-1, 1))
  frames = np.random.default_rng(0).integers(0, 256, (1, 1, 2, 2, 3),
                                             dtype=np.uint8)
  x = (frames[..., ::-1] / 255.0 - np.array([0.1, 0.2, 0.3])) / np.array(
      [0.5, 0.25, 1.0])
  np.testing.assert_allclose(video_views.normalize(frames, pre), 2 * x - 1,
                             rtol=1e-6, atol=1e-6)


def _predict(*args: str) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, "-m", "video_flax.predict", *args],
                        cwd=REPO_ROOT, capture_output=True, text=True,
                        timeout=600)


def test_predict_all_classes_bad_files_named_others_predicted(files):
  root, info = files
  videos = [str(root / n) for n in ("a.mp4", "missing.mp4", "corrupt.mp4",
                                    "b.avi")]
  proc = _predict(f"--weights={root / 'weights'}", f"--top_k={NUM_CLASSES}",
                  "--json", f"--visualize={root / 'sheets'}", *videos)
  assert proc.returncode == 1, proc.stderr[-3000:]
  errors = [line for line in proc.stderr.splitlines()
            if line.startswith("error: ")]
  assert len(errors) == 2, proc.stderr[-3000:]
  assert "missing.mp4" in errors[0] and "corrupt.mp4" in errors[1]
  assert "Traceback" not in proc.stderr
  out = json.loads(proc.stdout)
  assert [r["video"] for r in out["videos"]] == [videos[0], videos[3]]
  assert [e["video"] for e in out["errors"]] == videos[1:3]
  for result in out["videos"]:
    probs = [e["probability"] for e in result["top"]]
    assert abs(sum(probs) - 1.0) < 1e-6
    assert probs == sorted(probs, reverse=True)
    assert sorted(e["label"] for e in result["top"]) == list(info.class_names)
    assert (result["clips"], result["crops"]) == (2, 3)
    with open(result["contact_sheet"], "rb") as f:
      assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_bad_weights_dir_is_one_line(tmp_path):
  video = str(tmp_path / "v.mp4")
  video_writer.write_video(video, np.zeros((4, 16, 16, 3), np.uint8))
  proc = _predict(f"--weights={tmp_path / 'nope'}", video)
  assert proc.returncode == 2
  assert proc.stderr.strip().splitlines()[-1].startswith("error: --weights=")
  assert "Traceback" not in proc.stderr


def test_flow_views_follow_the_motion_and_flow_scale(tmp_path):
  # A vertical-stripe pattern moving right by 2 px per frame.
  x = np.arange(48)[None, None, :]
  t = np.arange(8)[:, None, None]
  grey = (128 + 100 * np.sin((x - 2 * t) * 2 * np.pi / 12)) * np.ones(
      (8, 32, 1))
  frames = np.repeat(grey[..., None], 3, -1).astype(np.uint8)
  video_writer.write_video(str(tmp_path / "moving.avi"), frames)
  pre = weights.Preprocessing(
      num_frames=4, resize_short_side=32, crop_size=32, mean=(0.5,) * 3,
      std=(0.5,) * 3, input_key=("video", "flow"), eval_num_clips=1,
      flow_scale={"clip_px": 4, "range": [-1, 1]})
  views = video_views.sample_views(str(tmp_path / "moving.avi"), pre)
  flow = views.inputs["flow"]
  assert flow.shape == (1, 4, 32, 32, 2) and views.inputs["video"].shape == (
      1, 4, 32, 32, 3)
  inner = flow[0, :3, 8:-8, 8:-8]  # the last frame repeats its predecessor
  assert abs(np.median(inner[..., 0]) - 2 / 4) < 0.15  # 2 px of +-4 px
  assert abs(np.median(inner[..., 1])) < 0.1


def test_scale_flow_clips_and_maps_the_range():
  pre = weights.Preprocessing(num_frames=1, resize_short_side=1, crop_size=1,
                              mean=(0,) * 3, std=(1,) * 3, input_key="flow",
                              flow_scale={"clip_px": 10, "range": [0, 1]})
  flow = np.array([-1.0, -0.25, 0.0, 0.25, 1.0], np.float32)  # x 20 px
  np.testing.assert_allclose(video_views.scale_flow(flow, pre),
                             [0.0, 0.25, 0.5, 0.75, 1.0], atol=1e-6)
