"""Malformed and unusual video files for fuzzing decode and prepare.

`write_case` writes one file of a KIND (random bytes, a truncated or
header-only container, odd frame sizes, 0- and 1-frame videos, grayscale,
16-bit, variable frame rate), with sizes, lengths and cut points drawn from
`rng`. `decode_outcome` says how `video_decode.decode_video` ended: a clip of
the right layout, a named skip, or a failure (any other exception, or a clip
of the wrong shape or type) — the last must never happen.
"""
from __future__ import annotations

import os
import traceback
from fractions import Fraction

import av
import numpy as np

from video_flax.data.prepare import decode as video_decode
from video_flax.data.prepare import video_writer as video_encode

KINDS = ("random_bytes", "mp4_header_then_garbage", "truncated", "odd_size",
         "zero_frames", "one_frame", "grayscale", "sixteen_bit",
         "variable_frame_rate")
EXTENSIONS = {"random_bytes": ".mp4", "mp4_header_then_garbage": ".mp4",
              "truncated": ".mp4", "one_frame": ".mp4"}  # others: .mkv


def _ffv1(path: str, frames: np.ndarray, pix_fmt: str,
          pts_ms: list[int] | None = None) -> None:
  """Lossless FFV1 in Matroska: any size, gray and 16-bit pixel formats."""
  with av.open(path, "w") as container:
    stream = container.add_stream("ffv1", rate=25)
    stream.width, stream.height = frames.shape[2], frames.shape[1]
    stream.pix_fmt = pix_fmt
    stream.codec_context.time_base = Fraction(1, 1000)
    container.start_encoding()  # a header even when there is no frame
    for i, rgb in enumerate(frames):
      frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
          format=pix_fmt)
      frame.pts = pts_ms[i] if pts_ms else i * 40
      frame.time_base = Fraction(1, 1000)
      for packet in stream.encode(frame):
        container.mux(packet)
    for packet in stream.encode():
      container.mux(packet)


def write_case(kind: str, stem: str, rng: np.random.Generator) -> str:
  """Writes a `kind` file at `stem` + its extension; returns the path."""
  path = stem + EXTENSIONS.get(kind, ".mkv")
  size = lambda: int(rng.integers(2, 40))
  frames = lambda t, h, w: rng.integers(0, 256, (t, h, w, 3), dtype=np.uint8)
  if kind == "random_bytes":
    with open(path, "wb") as f:
      f.write(rng.bytes(int(rng.integers(0, 5000))))
  elif kind == "mp4_header_then_garbage":
    with open(path, "wb") as f:
      f.write(b"\0\0\0\x18ftypisom\0\0\0\0isomiso2" + rng.bytes(
          int(rng.integers(0, 5000))))
  elif kind in ("truncated", "one_frame"):
    t = 1 if kind == "one_frame" else int(rng.integers(2, 30))
    video_encode.write_video(path, frames(t, 2 * size(), 2 * size()), 25)
    if kind == "truncated":
      with open(path, "r+b") as f:
        f.truncate(int(rng.integers(0, os.path.getsize(path))))
  elif kind == "variable_frame_rate":
    t = int(rng.integers(2, 20))
    pts = np.cumsum(rng.integers(1, 200, t)) - 1
    _ffv1(path, frames(t, size(), size()), "yuv444p", [int(p) for p in pts])
  else:
    pix_fmt = {"odd_size": "yuv444p", "zero_frames": "yuv444p",
               "grayscale": "gray", "sixteen_bit": "yuv444p16le"}[kind]
    t = 0 if kind == "zero_frames" else int(rng.integers(1, 20))
    h, w = (size() | 1, size() | 1) if kind == "odd_size" else (size(), size())
    _ffv1(path, frames(t, h, w), pix_fmt)
  return path


def decode_outcome(path: str, fps: float | None = 25.0,
                   short_side: int | None = None) -> tuple[str, str]:
  """('decoded', shape) | ('skipped', reason) | ('failed', why)."""
  try:
    video = video_decode.decode_video(path, fps=fps, short_side=short_side)
  except video_decode.VideoDecodeError as e:
    return "skipped", e.reason
  except Exception:  # pylint: disable=broad-except
    return "failed", traceback.format_exc(limit=3)
  f = video.frames
  if f.dtype != np.uint8 or f.ndim != 4 or f.shape[-1] != 3 or not len(f):
    return "failed", f"frames {f.dtype} {f.shape}"
  if short_side and min(f.shape[1:3]) != short_side:
    return "failed", f"short side of {f.shape} is not {short_side}"
  return "decoded", str(f.shape)


def write_ucf101_tree(root: str, rng: np.random.Generator, per_class: int = 6,
                      classes: tuple[str, ...] = ("Fuzz", "Other")) -> int:
  """A UCF-101 layout (fold 1) whose videos are random KINDS plus one good
  video per class in the train and the test list; returns the video count."""
  lists = os.path.join(root, "ucfTrainTestlist")
  os.makedirs(lists, exist_ok=True)
  with open(os.path.join(lists, "classInd.txt"), "w") as f:
    f.writelines(f"{i + 1} {c}\n" for i, c in enumerate(classes))
  train, test = [], []
  for label, name in enumerate(classes):
    folder = os.path.join(root, "UCF-101", name)
    os.makedirs(folder, exist_ok=True)
    for group in range(1, per_class + 1):
      stem = os.path.join(folder, f"v_{name}_g{group:02d}_c01")
      if group <= 2:
        path = stem + ".mp4"
        video_encode.write_video(path, rng.integers(
            0, 256, (12, 32, 32, 3), dtype=np.uint8), 25)
      else:
        path = write_case(str(rng.choice(KINDS)), stem, rng)
      line = f"{name}/{os.path.basename(path)}"
      (test.append(line + "\n") if group % 2 else
       train.append(f"{line} {label + 1}\n"))
  with open(os.path.join(lists, "trainlist01.txt"), "w") as f:
    f.writelines(train)
  with open(os.path.join(lists, "testlist01.txt"), "w") as f:
    f.writelines(test)
  return len(train) + len(test)
