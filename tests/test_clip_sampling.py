"""Clip sampling presets against the papers' footprints, short videos,
test views, crops, and video-level multi-view metrics against a loop."""
from __future__ import annotations

import numpy as np
import pytest

from video_flax import multiview
from video_flax.data import augment
from video_flax.data import clip_sampling as cs

# Quo Vadis Table 1 (frames, seconds) and the CSN paper: (train rgb, train
# flow, train seconds, test rgb, test flow).
PAPER = {
    "i3d": (64, 64, 2.56, 250, 250),
    "c3d": (16, 0, 0.64, 240, 0),
    "lstm": (25, 0, 5.0, 50, 0),
    "two_stream": (1, 10, 0.4, 25, 250),
    "fused_3d": (5, 50, 2.0, 25, 250),
    "csn_8x2": (8, 0, 16 / 30, 80, 0),
    "csn_32x2": (32, 0, 64 / 30, 320, 0),
}


@pytest.mark.parametrize("name", sorted(PAPER))
def test_presets_match_the_papers(name):
  rgb, flow, seconds, test_rgb, test_flow = PAPER[name]
  preset = cs.get_preset(name)
  clip = cs.clip_at(preset.train, 0, 300, preset.train.fps)
  assert len(clip.rgb) == rgb and len(clip.flow) == flow
  # Footprint: from the first frame to one stride past the last.
  footprint = (preset.train.num_frames * preset.train.stride
               if preset.train.num_frames > 1 else preset.train.flow_per_frame)
  assert footprint / preset.train.fps == pytest.approx(seconds)
  views = cs.view_clips(preset.test, 300, preset.test.fps, preset.test_clips)
  assert sum(len(v.rgb) for v in views) == test_rgb
  assert sum(len(v.flow) for v in views) == test_flow


def test_lstm_takes_one_of_every_five_frames_at_25fps_from_30fps_storage():
  spec = cs.get_preset("lstm").train
  clip = cs.clip_at(spec, 0, 300, stored_fps=30.0)
  times = clip.rgb / 30.0
  np.testing.assert_allclose(np.diff(times), 0.2)  # 5 frames at 25 fps


def test_fused_3d_has_10_flow_frames_after_each_rgb_frame():
  clip = cs.clip_at(cs.get_preset("fused_3d").train, 7, 300, 25.0)
  np.testing.assert_array_equal(clip.rgb, [7, 17, 27, 37, 47])
  np.testing.assert_array_equal(clip.flow.reshape(5, 10),
                                clip.rgb[:, None] + np.arange(10))


def test_short_videos_loop_or_pad_never_fail():
  spec = cs.ClipSpec(8, 2)
  looped = cs.clip_at(spec, 0, 5, 25.0, "loop")
  np.testing.assert_array_equal(looped.rgb, [0, 2, 4, 1, 3, 0, 2, 4])
  padded = cs.clip_at(spec, 0, 5, 25.0, "pad")
  np.testing.assert_array_equal(padded.rgb, [0, 2, 4, 4, 4, 4, 4, 4])
  rng = np.random.default_rng(0)
  for n in (1, 3, 15):
    clip = cs.random_clip(cs.get_preset("i3d").train, n, 25.0, rng)
    assert clip.rgb.min() >= 0 and clip.rgb.max() < n
  with pytest.raises(ValueError, match="short_video"):
    cs.clip_at(spec, 0, 5, 25.0, "crash")


def test_random_clips_cover_every_valid_start():
  spec = cs.ClipSpec(4, 2)  # span 7
  rng = np.random.default_rng(0)
  starts = {int(cs.random_clip(spec, 12, 25.0, rng).rgb[0]) for _ in range(300)}
  assert starts == set(range(6))


def test_view_clips_are_evenly_spaced_and_central_when_single():
  spec = cs.ClipSpec(16)
  starts = [int(v.rgb[0]) for v in cs.view_clips(spec, 250, 25.0, 15)]
  assert starts[0] == 0 and starts[-1] == 250 - 16
  assert max(np.diff(starts)) - min(np.diff(starts)) <= 1
  (single,) = cs.view_clips(spec, 100, 25.0, 1)
  assert single.rgb[0] == 42  # (100 - 16) // 2


def test_crop_boxes():
  rng = np.random.default_rng(0)
  for _ in range(50):
    box = augment.random_crop_box(240, 320, 224, (256, 320), rng)
    # A 224 crop after resizing the short side to 256..320 px.
    assert 168 <= box.height == box.width <= 210
    assert 0 <= box.top <= 240 - box.height and 0 <= box.left <= 320 - box.width
  three = augment.view_crop_boxes(240, 320, "three")
  assert [(b.left, b.top, b.height) for b in three] == [(0, 0, 240), (40, 0, 240),
                                                        (80, 0, 240)]
  tall = augment.view_crop_boxes(320, 240, "three")
  assert [b.top for b in tall] == [0, 40, 80]
  assert augment.eval_output_size(224, "full") == (224, 299)


def test_normalizations():
  x = np.array([0, 255, 51], np.uint8).reshape(1, 1, 1, 3)
  np.testing.assert_allclose(augment.normalize(x, "minus_one_one"),
                             [[[[-1, 1, -0.6]]]], atol=1e-6)
  frames = np.random.default_rng(0).integers(0, 256, (3, 4, 5, 3), np.uint8)
  mean, std = (np.array(v) for v in augment.NORMALIZATIONS["kinetics"])
  expected = (frames / 255 - mean) / std
  np.testing.assert_allclose(augment.normalize(frames, "kinetics"),
                             expected, rtol=1e-5)
  # Mirroring, fused into the same pass.
  np.testing.assert_allclose(augment.normalize(frames, "kinetics", flip=True),
                             expected[:, :, ::-1], rtol=1e-5)
  with pytest.raises(ValueError, match="Unknown normalization"):
    augment.normalize(frames, "zscore")


def test_multiview_metrics_match_a_loop():
  rng = np.random.default_rng(0)
  num_videos, views, k = 7, 6, 10
  labels = rng.integers(0, 4, num_videos)
  logits = rng.normal(size=(num_videos * views, k)) * 3
  video_index = np.repeat(np.arange(num_videos), views)
  view_labels = labels[video_index]
  mask = np.ones(len(logits))
  mask[-4:] = 0  # padding views: ignored
  logits_padded = logits.copy()
  logits_padded[-4:] = 100.0
  got = multiview.evaluate_views(logits_padded, view_labels, video_index, mask)
  # Independent loop over videos.
  hits1 = hits5 = 0
  per_class = {}
  for v in range(num_videos):
    rows = [i for i in range(len(logits)) if video_index[i] == v and mask[i]]
    p = np.exp(logits[rows]) / np.exp(logits[rows]).sum(1, keepdims=True)
    score = p.mean(0)
    top = list(np.argsort(-score))
    hits1 += top[0] == labels[v]
    hits5 += labels[v] in top[:5]
    per_class.setdefault(labels[v], []).append(top[0] == labels[v])
  assert got["top1"] == pytest.approx(hits1 / num_videos)
  assert got["top5"] == pytest.approx(hits5 / num_videos)
  assert got["mean_class_accuracy"] == pytest.approx(
      np.mean([np.mean(h) for h in per_class.values()]))
  assert got["num_videos"] == num_videos
  with pytest.raises(ValueError, match="disagree"):
    bad = view_labels.copy()
    bad[0] = (bad[0] + 1) % 4
    multiview.evaluate_views(logits, bad, video_index)
