"""Which frames a clip uses, as each paper's model samples them.

Indices are computed at the rate a model's stride refers to (`ClipSpec.fps`)
and mapped to the frames actually stored (prepared at any rate), so a preset
means the same footprint in seconds whatever the stored fps. Videos shorter
than a clip loop or repeat their last frame (`short_video`), never fail.

Presets (train clip; test = `test_clips` clips of `test`, uniformly spaced):

  csn_8x2      8 frames 2 apart at 30 fps; test 10 clips     (CSN ablations)
  csn_32x2     32 frames 2 apart at 30 fps; test 10 clips    (CSN final models)
  i3d          64 consecutive frames at 25 fps (+1 flow each); test one
               250-frame clip = the whole 10 s video
  c3d          16 consecutive frames at 25 fps; test 15 clips = 240 frames
  lstm         25 frames, 1 of every 5 at 25 fps; test one 50-frame clip
  two_stream   1 RGB frame + 10 consecutive flow frames; test 25 clips
  fused_3d     5 RGB frames 10 apart, 10 flow frames from each; test 5 clips
"""
from __future__ import annotations

import dataclasses

import numpy as np

SHORT_VIDEO_MODES = ("loop", "pad")


@dataclasses.dataclass(frozen=True)
class ClipSpec:
  """A clip: `num_frames` RGB frames `stride` apart at `fps`.

  With flow, each RGB frame brings `flow_per_frame` consecutive flow frames
  starting at it (1 for I3D, 10 for two-stream nets, 0 for RGB-only nets).
  fps None means the stored frame rate.
  """
  num_frames: int
  stride: int = 1
  flow_per_frame: int = 0
  fps: float | None = None

  def __post_init__(self):
    if self.num_frames < 1 or self.stride < 1 or self.flow_per_frame < 0:
      raise ValueError(f"invalid clip spec {self}")

  @property
  def span(self) -> int:
    """Frames (at `fps`) from the first to past the last one a clip touches."""
    return (self.num_frames - 1) * self.stride + max(1, self.flow_per_frame)


@dataclasses.dataclass(frozen=True)
class SamplingPreset:
  train: ClipSpec
  test: ClipSpec
  test_clips: int


PRESETS: dict[str, SamplingPreset] = {
    "csn_8x2": SamplingPreset(ClipSpec(8, 2, fps=30), ClipSpec(8, 2, fps=30),
                              10),
    "csn_32x2": SamplingPreset(ClipSpec(32, 2, fps=30),
                               ClipSpec(32, 2, fps=30), 10),
    "i3d": SamplingPreset(ClipSpec(64, 1, 1, fps=25),
                          ClipSpec(250, 1, 1, fps=25), 1),
    "c3d": SamplingPreset(ClipSpec(16, 1, fps=25), ClipSpec(16, 1, fps=25), 15),
    "lstm": SamplingPreset(ClipSpec(25, 5, fps=25), ClipSpec(50, 5, fps=25), 1),
    "two_stream": SamplingPreset(ClipSpec(1, 1, 10, fps=25),
                                 ClipSpec(1, 1, 10, fps=25), 25),
    "fused_3d": SamplingPreset(ClipSpec(5, 10, 10, fps=25),
                               ClipSpec(5, 10, 10, fps=25), 5),
}


def get_preset(name: str) -> SamplingPreset:
  if name not in PRESETS:
    raise ValueError(f"Unknown clip sampling preset {name!r}; known: "
                     f"{', '.join(PRESETS)}")
  return PRESETS[name]


@dataclasses.dataclass(frozen=True)
class ClipIndices:
  rgb: np.ndarray  # int [num_frames] stored-frame indices
  flow: np.ndarray  # int [num_frames * flow_per_frame] (empty without flow)


def frames_at_rate(num_stored: int, stored_fps: float, fps: float | None
                   ) -> int:
  """How many frames at `fps` the stored video covers (at least 1)."""
  if fps is None or abs(fps - stored_fps) < 1e-6:
    return num_stored
  return max(1, int(np.floor(num_stored * fps / stored_fps + 1e-6)))


def _to_stored(indices: np.ndarray, num_stored: int, stored_fps: float,
               fps: float | None) -> np.ndarray:
  if fps is not None and abs(fps - stored_fps) >= 1e-6:
    # The stored frame shown at time index / fps.
    indices = np.floor(indices * (stored_fps / fps) + 1e-6).astype(np.int64)
  return np.minimum(indices, num_stored - 1)


def _wrap(indices: np.ndarray, length: int, short_video: str) -> np.ndarray:
  if short_video == "loop":
    return indices % length
  if short_video == "pad":
    return np.minimum(indices, length - 1)
  raise ValueError(f"short_video must be one of {SHORT_VIDEO_MODES}, got "
                   f"{short_video!r}")


def window_indices(num_stored: int, num_frames: int, stride: int,
                   rng: np.random.Generator | None) -> np.ndarray:
  """Indices [num_frames] of frames `stride` apart inside `num_stored`
  frames (clips of one fixed length, as the synthetic set stores): a random
  window with `rng`, the centred one without; ValueError if it does not fit.
  """
  span = (num_frames - 1) * stride + 1
  if span > num_stored:
    raise ValueError(f"num_frames={num_frames} with frame_stride={stride} "
                     f"spans {span} frames but a clip has {num_stored}")
  start = (rng.integers(0, num_stored - span + 1) if rng is not None
           else (num_stored - span) // 2)
  return start + stride * np.arange(num_frames)


def clip_at(spec: ClipSpec, start: int, num_stored: int, stored_fps: float,
            short_video: str = "loop") -> ClipIndices:
  """Stored-frame indices of the clip starting at frame `start` (at spec.fps).

  Frames past the end loop back to the start ('loop') or repeat the last
  frame ('pad').
  """
  if num_stored < 1:
    raise ValueError("cannot sample a clip from a video with no frames")
  length = frames_at_rate(num_stored, stored_fps, spec.fps)
  rgb = start + np.arange(spec.num_frames) * spec.stride
  flow = (rgb[:, None] + np.arange(spec.flow_per_frame)[None]).reshape(-1)
  convert = lambda i: _to_stored(_wrap(i, length, short_video), num_stored,
                                 stored_fps, spec.fps)
  return ClipIndices(rgb=convert(rgb), flow=convert(flow))


def random_clip(spec: ClipSpec, num_stored: int, stored_fps: float,
                rng: np.random.Generator, short_video: str = "loop"
                ) -> ClipIndices:
  """A training clip at a uniformly random start (0 if the video is short)."""
  length = frames_at_rate(num_stored, stored_fps, spec.fps)
  start = int(rng.integers(0, max(length - spec.span, 0) + 1))
  return clip_at(spec, start, num_stored, stored_fps, short_video)


def uniform_clip_starts(spec: ClipSpec, length: int, num_clips: int
                        ) -> np.ndarray:
  """Starts of `num_clips` clips spread evenly over `length` frames.

  One clip is centred; several run from the first to the last full window.
  A video shorter than one clip gives start 0 for every clip.
  """
  room = max(length - spec.span, 0)
  if num_clips == 1:
    return np.array([room // 2])
  return np.floor(np.linspace(0, room, num_clips) + 0.5).astype(np.int64)


def view_clips(spec: ClipSpec, num_stored: int, stored_fps: float,
               num_clips: int, short_video: str = "loop") -> list[ClipIndices]:
  """The `num_clips` evenly spaced test clips of a video."""
  length = frames_at_rate(num_stored, stored_fps, spec.fps)
  return [clip_at(spec, int(s), num_stored, stored_fps, short_video)
          for s in uniform_clip_starts(spec, length, num_clips)]
