"""Writing video files with PyAV (test fixtures, benchmarks, demo data)."""
from __future__ import annotations

import os
from fractions import Fraction

import av
import numpy as np

# Codec used when none is given, by container extension.
DEFAULT_CODECS = {".mp4": "h264", ".mkv": "h264", ".avi": "mjpeg",
                  ".webm": "libvpx"}


def write_video(path: str, frames: np.ndarray, fps: float = 25.0,
                codec: str | None = None, gop_size: int | None = None) -> None:
  """Encodes uint8 RGB frames [T, H, W, 3] (H, W even) into `path`.

  Args:
    codec: e.g. 'h264', 'mpeg4', 'mjpeg', 'libvpx'; None picks by extension.
    gop_size: frames between keyframes (None: the codec's default).
  """
  ext = os.path.splitext(path)[1].lower()
  codec = codec or DEFAULT_CODECS.get(ext)
  if codec is None:
    raise ValueError(f"no default codec for {path}; pass codec=")
  t, h, w, c = frames.shape
  if c != 3 or frames.dtype != np.uint8 or h % 2 or w % 2:
    raise ValueError(f"expected uint8 [T, H, W, 3] with even H, W; got "
                     f"{frames.dtype} {frames.shape}")
  with av.open(path, "w") as container:
    stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(
        1001))
    stream.width, stream.height = w, h
    stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
    # ~1 bit per pixel: near-lossless, so decoded frames keep their content.
    stream.bit_rate = max(int(w * h * fps), 100_000)
    if gop_size is not None:
      stream.codec_context.gop_size = gop_size
    for frame in frames:
      for packet in stream.encode(av.VideoFrame.from_ndarray(frame,
                                                             format="rgb24")):
        container.mux(packet)
    for packet in stream.encode():
      container.mux(packet)
