"""Per-clip map steps: temporal and spatial crops, flip, normalisation.

All take and return numpy arrays [T, H, W, C] (channels-last); randomness
comes only from the `np.random.Generator` passed in (grain's per-element,
seeded generator), so a pipeline stays deterministic and resumable.
"""
from __future__ import annotations

import numpy as np


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


def crop(video: np.ndarray, size: int, rng: np.random.Generator | None
         ) -> np.ndarray:
  """A size x size window of video [T, H, W, C]: random with `rng`, centred
  without."""
  _, height, width, _ = video.shape
  if size > height or size > width:
    raise ValueError(f"crop_size={size} is larger than the {height}x{width} "
                     f"frames")
  if rng is not None:
    top = rng.integers(0, height - size + 1)
    left = rng.integers(0, width - size + 1)
  else:
    top, left = (height - size) // 2, (width - size) // 2
  return video[:, top:top + size, left:left + size]


def random_flip(video: np.ndarray, rng: np.random.Generator) -> np.ndarray:
  """Mirrors video [T, H, W, C] left-right with probability 1/2. Only for
  datasets whose labels survive mirroring (not left/right motion classes)."""
  return video[:, :, ::-1] if rng.random() < 0.5 else video


def normalize(video: np.ndarray) -> np.ndarray:
  """uint8 [..., C] in [0, 255] -> float32 in [-1, 1] (x / 127.5 - 1)."""
  return video.astype(np.float32) * np.float32(1 / 127.5) - np.float32(1.0)


def train_clip(video: np.ndarray, *, num_frames: int, stride: int,
               crop_size: int, flip: bool, rng: np.random.Generator
               ) -> np.ndarray:
  """Random temporal window, random crop, optional random flip, normalised:
  uint8 [T0, H0, W0, C] -> float32 [num_frames, crop_size, crop_size, C]."""
  video = video[frame_indices(video.shape[0], num_frames, stride, rng)]
  video = crop(video, crop_size, rng)
  if flip:
    video = random_flip(video, rng)
  return normalize(video)


def eval_clip(video: np.ndarray, *, num_frames: int, stride: int,
              crop_size: int) -> np.ndarray:
  """Centred temporal window and centre crop, normalised (see train_clip)."""
  video = video[frame_indices(video.shape[0], num_frames, stride, None)]
  return normalize(crop(video, crop_size, None))
