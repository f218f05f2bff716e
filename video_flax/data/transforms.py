"""Per-clip map steps: temporal and spatial crops, flip, normalisation.

All take and return numpy arrays [T, H, W, C] (channels-last); randomness
comes only from the `np.random.Generator` passed in (grain's per-element,
seeded generator), so a pipeline stays deterministic and resumable.
"""
from __future__ import annotations

import numpy as np

from video_flax.data import optical_flow


def frame_indices(num_stored: int, num_frames: int, stride: int,
                  rng: np.random.Generator | None) -> np.ndarray:
  """Indices [num_frames] of frames `stride` apart inside `num_stored` frames;
  a random window with `rng`, the centred one without."""
  span = (num_frames - 1) * stride + 1
  if span > num_stored:
    raise ValueError(f"num_frames={num_frames} with frame_stride={stride} "
                     f"spans {span} frames but a clip has {num_stored}")
  start = (rng.integers(0, num_stored - span + 1) if rng is not None
           else (num_stored - span) // 2)
  return start + stride * np.arange(num_frames)


def normalize(video: np.ndarray) -> np.ndarray:
  """uint8 [..., C] in [0, 255] -> float32 in [-1, 1] (x / 127.5 - 1).

  Also decodes flow stored by optical_flow.flow_to_uint8."""
  return video.astype(np.float32) * np.float32(1 / 127.5) - np.float32(1.0)


def _crop_all(clips: dict[str, np.ndarray], size: int,
              rng: np.random.Generator | None) -> dict[str, np.ndarray]:
  """One window (random with `rng`) applied to every array of `clips`."""
  shapes = {k: v.shape[:3] for k, v in clips.items()}
  if len(set(shapes.values())) != 1:
    raise ValueError(f"clips to crop together differ in [T, H, W]: {shapes}")
  _, height, width = next(iter(shapes.values()))
  if size > height or size > width:
    raise ValueError(f"crop_size={size} is larger than the {height}x{width} "
                     f"frames")
  if rng is not None:
    top = rng.integers(0, height - size + 1)
    left = rng.integers(0, width - size + 1)
  else:
    top, left = (height - size) // 2, (width - size) // 2
  return {k: v[:, top:top + size, left:left + size] for k, v in clips.items()}


def crop(video: np.ndarray, size: int, rng: np.random.Generator | None
         ) -> np.ndarray:
  """A size x size window of video [T, H, W, C]: random with `rng`, centred
  without."""
  return _crop_all({"video": video}, size, rng)["video"]


def train_clips(clips: dict[str, np.ndarray], *, num_frames: int,
                stride: int, crop_size: int, flip: bool,
                rng: np.random.Generator) -> dict[str, np.ndarray]:
  """Random temporal window, random crop, optional random flip, normalised,
  the same for every array: {'video': uint8 [T0, H0, W0, 3], 'flow': uint8
  [T0, H0, W0, 2] (optional, frame t's flow)} -> float32 [num_frames,
  crop_size, crop_size, C] each. A flip negates the flow's x."""
  num_stored = {v.shape[0] for v in clips.values()}
  if len(num_stored) != 1:
    raise ValueError(f"clips differ in length: "
                     f"{ {k: v.shape[0] for k, v in clips.items()} }")
  indices = frame_indices(num_stored.pop(), num_frames, stride, rng)
  out = _crop_all({k: v[indices] for k, v in clips.items()}, crop_size, rng)
  out = {k: normalize(v) for k, v in out.items()}
  if flip and rng.random() < 0.5:
    out = {k: (optical_flow.flip_flow_horizontally(v) if k == "flow"
               else v[:, :, ::-1]) for k, v in out.items()}
  return out


def eval_clips(clips: dict[str, np.ndarray], *, num_frames: int,
               stride: int, crop_size: int) -> dict[str, np.ndarray]:
  """Centred temporal window and centre crop, normalised (see train_clips)."""
  out = {}
  for k, v in clips.items():
    v = v[frame_indices(v.shape[0], num_frames, stride, None)]
    out[k] = normalize(crop(v, crop_size, None))
  return out
