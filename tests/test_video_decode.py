"""PyAV decoding: containers, frame order, fps resampling, resize, seeking,
and a clear, classified error for every kind of bad file."""
from __future__ import annotations

import os

import numpy as np
import pytest

from real_video_trees import counter_frames, frame_number, write_bad_files
from video_flax.data.prepare import decode
from video_flax.data.prepare import video_writer

CONTAINERS = [("h264", ".mp4"), ("mpeg4", ".mp4"), ("mjpeg", ".avi"),
              ("mpeg4", ".avi"), ("libvpx", ".webm"), ("h264", ".mkv")]


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
  """30-frame 64x48 25 fps videos in every supported container."""
  folder = tmp_path_factory.mktemp("videos")
  paths = {}
  for codec, ext in CONTAINERS:
    path = str(folder / f"{codec}{ext}")
    video_writer.write_video(path, counter_frames(30), 25, codec)
    paths[(codec, ext)] = path
  return paths


@pytest.mark.parametrize("codec,ext", CONTAINERS)
def test_decodes_every_frame_in_order(videos, codec, ext):
  decoded = decode.decode_video(videos[(codec, ext)])
  assert decoded.frames.shape == (30, 48, 64, 3)
  assert decoded.frames.dtype == np.uint8
  assert decoded.fps == decoded.source_fps == 25
  assert [frame_number(f) for f in decoded.frames] == list(range(30))
  info = decode.probe(videos[(codec, ext)])
  assert (info.width, info.height, info.fps) == (64, 48, 25)
  assert info.duration_s == pytest.approx(1.2, abs=0.05)


def test_fps_resampling_picks_nearest_frames(videos):
  path = videos[("h264", ".mp4")]
  down = decode.decode_video(path, fps=5)  # 1 of every 5 frames
  assert [frame_number(f) for f in down.frames] == [0, 5, 10, 15, 20, 25]
  assert down.fps == 5 and down.source_fps == 25
  up = decode.decode_video(path, fps=50)  # each frame twice
  assert [frame_number(f) for f in up.frames] == [i // 2 for i in range(60)]
  odd = decode.decode_video(path, fps=30)  # frame shown at time k / 30
  expected = [k * 25 // 30 for k in range(36)]
  assert [frame_number(f) for f in odd.frames] == expected


def test_short_side_resize(videos, tmp_path):
  landscape = decode.decode_video(videos[("mjpeg", ".avi")], short_side=24)
  assert landscape.frames.shape == (30, 24, 32, 3)
  portrait_path = str(tmp_path / "portrait.mp4")
  video_writer.write_video(portrait_path,
                           counter_frames(4, height=64, width=48), 25)
  portrait = decode.decode_video(portrait_path, short_side=36)
  assert portrait.frames.shape == (4, 48, 36, 3)


@pytest.mark.parametrize("codec,ext", [("h264", ".mp4"), ("mpeg4", ".avi"),
                                       ("libvpx", ".webm")])
def test_frame_accurate_seek(tmp_path, codec, ext):
  path = str(tmp_path / f"long{ext}")
  video_writer.write_video(path, counter_frames(50), 25, codec, gop_size=8)
  full = decode.decode_video(path).frames
  indices = [41, 3, 3, 0, 17, 49, 26]
  got = decode.read_frames(path, indices, seek_gap=2)
  np.testing.assert_array_equal(got, full[indices])
  assert [frame_number(f) for f in got] == indices
  segment = decode.decode_video(path, start_s=0.8, end_s=1.2)
  assert [frame_number(f) for f in segment.frames] == list(range(20, 30))
  with pytest.raises(decode.VideoDecodeError, match="past the end"):
    decode.read_frames(path, [10, 60])


def test_bad_files_raise_classified_errors_naming_the_file(videos, tmp_path):
  expected = write_bad_files(str(tmp_path), ".mp4", videos[("h264", ".mp4")])
  avi = str(tmp_path / "truncated_avi.avi")
  from real_video_trees import write_truncated
  write_truncated(avi, videos[("mjpeg", ".avi")])
  expected["truncated_avi"] = "truncated"
  (tmp_path / "clip.mov").write_bytes(b"\0\0\0\x14ftypqt  ")
  expected["clip"] = "unsupported_format"
  expected["absent"] = "missing"
  for stem, reason in expected.items():
    ext = {"truncated_avi": ".avi", "clip": ".mov"}.get(stem, ".mp4")
    path = str(tmp_path / f"{stem}{ext}")
    with pytest.raises(decode.VideoDecodeError) as error:
      decode.decode_video(path)
    assert error.value.reason == reason, (stem, error.value)
    assert path in str(error.value)
  assert decode.is_truncated(avi)
  assert not decode.is_truncated(videos[("mjpeg", ".avi")])
  assert not any(decode.is_truncated(p) for p in videos.values())
  assert os.path.getsize(str(tmp_path / "empty.mp4")) == 0
