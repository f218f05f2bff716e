"""TV-L1 optical flow as in I3D: grayscale, clipped to 20 px, scaled to [-1, 1].

Flow frame t is the flow from RGB frame t to frame t + 1 (the last one
repeats the one before), so an RGB clip and its flow clip share indices;
flow_codec.py stores it. Two backends give the same flow
(docs/optical_flow.md): video_flax.flow in JAX and OpenCV's cv2.optflow,
the reference.
"""
from __future__ import annotations

import numpy as np

from video_flax import flow as jax_flow
from video_flax.flow import compare
from video_flax.data import flow_codec

BACKENDS = ("jax", "opencv")


def tvl1_flow(frames: np.ndarray, threads: int = 1, backend: str = "jax",
              batch_size: int | None = None) -> np.ndarray:
  """TV-L1 flow of consecutive frames (OpenCV's DualTVL1, default params).

  Args:
    frames: uint8 [T, H, W, 3] RGB, T >= 1.
    threads: OpenCV threads (1 inside worker processes); opencv backend only.
    backend: "jax" (video_flax.flow, on the default JAX device, equal to
      OpenCV's within ~0.01 px) or "opencv" (cv2.optflow, the reference).
    batch_size: frame pairs per jitted call (None: 1 on CPU, 32 on an
      accelerator); jax backend only.

  Returns:
    float32 [T, H, W, 2] in [-1, 1]: (x, y) displacement / 20, clipped;
    x > 0 means motion to the right, y > 0 motion down. A single-frame video
    has zero flow.
  """
  if frames.ndim != 4 or frames.shape[-1] != 3:
    raise ValueError(f"expected RGB frames [T, H, W, 3], got {frames.shape}")
  if backend not in BACKENDS:
    raise ValueError(f"flow backend must be one of {BACKENDS}, got "
                     f"{backend!r}")
  flow = np.zeros(frames.shape[:3] + (2,), np.float32)
  if len(frames) > 1:
    if backend == "jax":
      flow[:-1] = jax_flow.consecutive_flows(frames, batch_size)
    else:
      flow[:-1] = compare.opencv_flows(frames, threads)
    flow[-1] = flow[-2]
  bound = flow_codec.FLOW_BOUND
  return np.clip(flow, -bound, bound) / bound
