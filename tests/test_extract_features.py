"""`python -m video_flax.extract_features`: shapes, values and the index."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import jax
import numpy as np

import weights_fixtures
from conftest import REPO_ROOT
from video_flax import features
from video_flax import video_views
from video_flax import weights


def test_features_per_video_and_clip_with_index(tmp_path):
  weights_fixtures.save_tiny_weights(str(tmp_path / "w"), 5,
                                     eval_crop="three", eval_num_clips=3)
  videos = [str(tmp_path / "a.mp4"), str(tmp_path / "sub" / "a.mp4"),
            str(tmp_path / "missing.avi")]
  os.makedirs(tmp_path / "sub")
  weights_fixtures.write_index_video(videos[0])
  weights_fixtures.write_index_video(videos[1], num_frames=10)
  out = tmp_path / "out"
  proc = subprocess.run(
      [sys.executable, "-m", "video_flax.extract_features",
       f"--weights={tmp_path / 'w'}", f"--out={out}", "--per_clip",
       "--batch_size=4", *videos],
      cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
  assert proc.returncode == 1, proc.stderr[-3000:]
  assert "[3/3]" in proc.stderr and "missing.avi" in proc.stderr
  index = json.loads((out / "index.json").read_text())["videos"]
  assert [e["video"] for e in index] == videos
  assert [e["status"] for e in index][:2] == ["ok", "ok"]
  assert index[2]["status"].startswith("missing")
  assert index[0]["features"] != index[1]["features"]  # same stem, 2 files
  model, variables, info = weights.load(str(tmp_path / "w"))
  for entry, video in zip(index[:2], videos):
    feats = np.load(out / entry["features"])
    clips = np.load(out / entry["clip_features"])
    dim = feats.shape[0]
    assert entry["shape"] == [dim] and entry["clip_shape"] == [3, dim]
    assert clips.shape == (3, dim) and feats.dtype == np.float32
    # Independently: all 9 views in one call, features averaged.
    views = video_views.sample_views(video, info.preprocessing)
    _, direct = jax.jit(lambda v, x: features.logits_and_features(
        model, v, x))(variables, views.inputs["video"])
    direct = np.asarray(direct).reshape(3, 3, dim)
    np.testing.assert_allclose(clips, direct.mean(1), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(feats, direct.mean((0, 1)), rtol=1e-4,
                               atol=1e-5)
