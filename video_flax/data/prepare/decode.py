"""PyAV video decoding: fps resampling, short-side resize, frame-accurate seek.

Accepted containers are mp4, avi, webm and mkv. Anything that cannot be
decoded raises `VideoDecodeError`, which names the file and a `reason` from
`SKIP_REASONS`, so the prepare step can count and report skipped videos
instead of crashing or silently producing empty clips.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Iterator, Sequence

import av
import cv2
import numpy as np

SUPPORTED_EXTENSIONS = (".mp4", ".avi", ".webm", ".mkv")
SKIP_REASONS = ("missing", "unsupported_format", "zero_length", "not_a_video",
                "truncated", "undecodable", "too_short")
# Fewer decoded frames than this fraction of the declared count = truncated.
_TRUNCATED_FRACTION = 0.9


class VideoDecodeError(Exception):
  """A video that cannot be used; `reason` is one of SKIP_REASONS."""

  def __init__(self, path: str, reason: str, detail: str):
    if reason not in SKIP_REASONS:
      raise ValueError(f"unknown skip reason {reason!r}")
    super().__init__(f"{path}: {reason}: {detail}")
    self.path = path
    self.reason = reason
    self.detail = detail


@dataclasses.dataclass(frozen=True)
class VideoInfo:
  """Stream metadata as declared by the container (not decoded)."""
  path: str
  num_frames: int  # declared; 0 when the container does not say
  fps: float
  width: int
  height: int
  duration_s: float


@dataclasses.dataclass(frozen=True)
class DecodedVideo:
  frames: np.ndarray  # uint8 [T, H, W, 3] RGB
  fps: float  # rate of `frames` (the target fps, or the source rate)
  source_fps: float


def check_extension(path: str) -> None:
  """Raises VideoDecodeError('unsupported_format') for other extensions."""
  ext = os.path.splitext(path)[1].lower()
  if ext not in SUPPORTED_EXTENSIONS:
    raise VideoDecodeError(
        path, "unsupported_format",
        f"extension {ext or '(none)'!r} is not one of "
        f"{', '.join(SUPPORTED_EXTENSIONS)}")


def sniff_container(path: str) -> str | None:
  """'mp4', 'avi' or 'matroska' from the file's magic bytes, else None."""
  with open(path, "rb") as f:
    head = f.read(12)
  if len(head) >= 8 and head[4:8] == b"ftyp":
    return "mp4"
  if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
    return "avi"
  if head[:4] == b"\x1a\x45\xdf\xa3":
    return "matroska"
  return None


def _mp4_is_truncated(path: str, size: int) -> bool:
  """True if a top-level box runs past the end of the file."""
  with open(path, "rb") as f:
    pos = 0
    while pos + 8 <= size:
      f.seek(pos)
      header = f.read(16)
      box_size = int.from_bytes(header[:4], "big")
      if box_size == 1:  # 64-bit size follows the type
        box_size = int.from_bytes(header[8:16], "big")
      elif box_size == 0:  # box extends to the end of the file
        return False
      if box_size < 8:
        return True
      pos += box_size
    return pos > size


def is_truncated(path: str) -> bool:
  """Container-level truncation check: mp4 box sizes, the avi RIFF size."""
  size = os.path.getsize(path)
  kind = sniff_container(path)
  if kind == "mp4":
    return _mp4_is_truncated(path, size)
  if kind == "avi":
    with open(path, "rb") as f:
      riff_size = int.from_bytes(f.read(8)[4:8], "little")
    return riff_size + 8 > size
  return False


def _check_file(path: str) -> None:
  """Raises VideoDecodeError for missing, empty or non-video files."""
  if not os.path.isfile(path):
    raise VideoDecodeError(path, "missing", "no such file")
  check_extension(path)
  if os.path.getsize(path) == 0:
    raise VideoDecodeError(path, "zero_length", "the file is empty (0 bytes)")
  if sniff_container(path) is None:
    raise VideoDecodeError(
        path, "not_a_video",
        "no mp4/avi/matroska container signature in the first bytes")


def _open(path: str) -> av.container.InputContainer:
  _check_file(path)
  try:
    container = av.open(path)
  except av.error.FFmpegError as e:
    reason = "truncated" if is_truncated(path) else "undecodable"
    raise VideoDecodeError(path, reason, f"cannot open: {e}") from e
  if not container.streams.video:
    container.close()
    raise VideoDecodeError(path, "undecodable", "the file has no video stream")
  return container


def _stream_fps(stream: av.video.stream.VideoStream) -> float:
  rate = stream.average_rate or stream.guessed_rate or stream.base_rate
  if not rate or float(rate) <= 0:
    raise VideoDecodeError(stream.container.name, "undecodable",
                           "the video stream declares no frame rate")
  return float(rate)


def _declared_duration(container: av.container.InputContainer,
                       stream: av.video.stream.VideoStream) -> float:
  if stream.duration is not None and stream.time_base:
    return float(stream.duration * stream.time_base)
  if container.duration is not None:
    return container.duration / av.time_base
  return 0.0


def probe(path: str) -> VideoInfo:
  """Container metadata of `path` without decoding any frame."""
  with _open(path) as container:
    stream = container.streams.video[0]
    fps = _stream_fps(stream)
    duration = _declared_duration(container, stream)
    num_frames = stream.frames or int(round(duration * fps))
    return VideoInfo(path=path, num_frames=num_frames, fps=fps,
                     width=stream.codec_context.width,
                     height=stream.codec_context.height, duration_s=duration)


def short_side_size(height: int, width: int, short_side: int | None
                    ) -> tuple[int, int]:
  """(height, width) with the shorter side scaled to `short_side`."""
  if not short_side:
    return height, width
  scale = short_side / min(height, width)
  if height <= width:
    return short_side, max(1, int(round(width * scale)))
  return max(1, int(round(height * scale))), short_side


def resize_short_side(frame: np.ndarray, short_side: int | None) -> np.ndarray:
  """Resizes a uint8 [H, W, C] frame so min(H, W) == short_side."""
  h, w = frame.shape[:2]
  new_h, new_w = short_side_size(h, w, short_side)
  if (new_h, new_w) == (h, w):
    return frame
  # INTER_AREA avoids aliasing when shrinking; bilinear when enlarging.
  interp = cv2.INTER_AREA if new_h < h else cv2.INTER_LINEAR
  return cv2.resize(frame, (new_w, new_h), interpolation=interp)


def _frame_time(frame: av.VideoFrame, start_time: float) -> float:
  return float(frame.pts * frame.time_base) - start_time


def _timed_frames(container: av.container.InputContainer,
                  stream: av.video.stream.VideoStream,
                  seek_to_s: float | None = None
                  ) -> Iterator[tuple[float, av.VideoFrame]]:
  """Yields (time in s from the stream start, frame) in presentation order."""
  start_time = float(stream.start_time * stream.time_base) if (
      stream.start_time is not None) else 0.0
  if seek_to_s is not None and seek_to_s > 0:
    container.seek(int((seek_to_s + start_time) / stream.time_base),
                   stream=stream, backward=True, any_frame=False)
  for frame in container.decode(stream):
    if frame.pts is None:
      continue
    yield _frame_time(frame, start_time), frame


def _decode_error(path: str, e: Exception) -> VideoDecodeError:
  reason = "truncated" if is_truncated(path) else "undecodable"
  return VideoDecodeError(path, reason, f"decoding failed: {e}")


def decode_video(path: str, *, fps: float | None = None,
                 short_side: int | None = None, start_s: float | None = None,
                 end_s: float | None = None, threads: int = 1) -> DecodedVideo:
  """Decodes `path` (optionally the [start_s, end_s) segment) to RGB frames.

  Args:
    path: an mp4/avi/webm/mkv file.
    fps: output frame rate; output frame k is the source frame shown at time
      start_s + k / fps (None keeps every source frame).
    short_side: resize so the shorter side has this many pixels (None: keep).
    start_s, end_s: segment in seconds from the stream start (frame-accurate:
      seeks to the previous keyframe and drops frames before start_s).
    threads: decoder threads (1 in worker processes to avoid oversubscription).

  Returns:
    DecodedVideo with frames uint8 [T, H, W, 3].

  Raises:
    VideoDecodeError: naming the file and why (truncated, undecodable, ...).
  """
  with _open(path) as container:
    stream = container.streams.video[0]
    stream.thread_type = "AUTO" if threads != 1 else "SLICE"
    stream.codec_context.thread_count = threads
    source_fps = _stream_fps(stream)
    begin = start_s or 0.0
    eps = 0.01 / source_fps  # timestamp rounding slack
    frames: list[np.ndarray] = []
    pending = None  # (time, frame): shown until the next frame's time
    try:
      for t, frame in _timed_frames(container, stream, start_s):
        if end_s is not None and t >= end_s - eps:
          break
        if pending is not None:
          _emit(frames, pending, t, begin, fps, short_side, eps)
        pending = (t, frame)
      if pending is not None:
        until = pending[0] + 1.0 / source_fps
        _emit(frames, pending, until if end_s is None else min(until, end_s),
              begin, fps, short_side, eps)
    except av.error.FFmpegError as e:
      raise _decode_error(path, e) from e
    if not frames:
      reason = "truncated" if is_truncated(path) else "undecodable"
      raise VideoDecodeError(path, reason, "no frame could be decoded")
    if start_s is None and end_s is None:
      _check_complete(path, container, stream, pending[0], source_fps)
    return DecodedVideo(frames=np.stack(frames), fps=fps or source_fps,
                        source_fps=source_fps)


def _emit(out: list[np.ndarray], pending: tuple[float, av.VideoFrame],
          until: float, begin: float, fps: float | None,
          short_side: int | None, eps: float) -> None:
  """Appends the frame shown from pending[0] to `until` once per output time
  begin + k / fps in that interval (once if it starts after begin without fps).
  """
  start, frame = pending
  if fps is None:
    count = int(start >= begin - eps)
  else:
    count = 0
    while begin + (len(out) + count) / fps < until - eps:
      count += 1
  if count:
    image = resize_short_side(frame.to_ndarray(format="rgb24"), short_side)
    out.extend([image] * count)


def _check_complete(path: str, container: av.container.InputContainer,
                    stream: av.video.stream.VideoStream, last_time: float,
                    source_fps: float) -> None:
  """Raises 'truncated' when decoding ended well before the declared end."""
  declared_frames = stream.frames or int(
      round(_declared_duration(container, stream) * source_fps))
  decoded_frames = int(round(last_time * source_fps)) + 1
  if declared_frames and decoded_frames < _TRUNCATED_FRACTION * declared_frames:
    raise VideoDecodeError(
        path, "truncated",
        f"decoded {decoded_frames} of {declared_frames} declared frames")


def read_frames(path: str, indices: Sequence[int], *,
                short_side: int | None = None, seek_gap: int = 32,
                threads: int = 1) -> np.ndarray:
  """Frame-accurate random access by source frame index.

  Frame i is the frame shown at time i / fps. Seeks (to the keyframe before
  a wanted frame) only when the next wanted frame is more than `seek_gap`
  frames ahead; otherwise decodes straight through.

  Args:
    path: an mp4/avi/webm/mkv file.
    indices: source frame indices (any order, repeats allowed).
    short_side: resize so the shorter side has this many pixels.

  Returns:
    uint8 [len(indices), H, W, 3] in the order of `indices`.
  """
  wanted = sorted(set(int(i) for i in indices))
  if not wanted:
    raise ValueError(f"{path}: read_frames needs at least one index")
  if wanted[0] < 0:
    raise ValueError(f"{path}: negative frame index {wanted[0]}")
  found: dict[int, np.ndarray] = {}
  with _open(path) as container:
    stream = container.streams.video[0]
    stream.codec_context.thread_count = threads
    fps = _stream_fps(stream)
    pos = 0
    try:
      while pos < len(wanted):
        target = wanted[pos]
        seek = target / fps - 0.5 / fps if target > seek_gap else None
        for t, frame in _timed_frames(container, stream, seek):
          index = int(round(t * fps))
          if index < target:
            continue
          while pos < len(wanted) and wanted[pos] <= index:
            found[wanted[pos]] = resize_short_side(
                frame.to_ndarray(format="rgb24"), short_side)
            pos += 1
          if pos == len(wanted) or wanted[pos] - index > seek_gap:
            break
        else:
          break  # end of stream
    except av.error.FFmpegError as e:
      raise _decode_error(path, e) from e
  missing = [i for i in wanted if i not in found]
  if missing:
    raise VideoDecodeError(
        path, "too_short",
        f"frames {missing[:5]}{'...' if len(missing) > 5 else ''} are past "
        f"the end of the video")
  return np.stack([found[int(i)] for i in indices])

