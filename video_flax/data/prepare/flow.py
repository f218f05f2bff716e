"""TV-L1 optical flow as in I3D: grayscale, clipped to 20 px, scaled to [-1, 1].

Flow frame t is the flow from RGB frame t to frame t + 1 (the last one
repeats the one before), so an RGB clip and its flow clip share indices;
flow_codec.py stores it.
"""
from __future__ import annotations

import cv2
import numpy as np

from video_flax.data import flow_codec


def tvl1_flow(frames: np.ndarray, threads: int = 1) -> np.ndarray:
  """TV-L1 flow of consecutive frames (opencv-contrib DualTVL1, default params).

  Args:
    frames: uint8 [T, H, W, 3] RGB, T >= 1.
    threads: OpenCV threads (1 inside worker processes).

  Returns:
    float32 [T, H, W, 2] in [-1, 1]: (x, y) displacement / 20, clipped;
    x > 0 means motion to the right, y > 0 motion down. A single-frame video
    has zero flow.
  """
  if frames.ndim != 4 or frames.shape[-1] != 3:
    raise ValueError(f"expected RGB frames [T, H, W, 3], got {frames.shape}")
  cv2.setNumThreads(threads)
  t, h, w, _ = frames.shape
  gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
  tvl1 = cv2.optflow.DualTVL1OpticalFlow_create()
  flow = np.zeros((t, h, w, 2), np.float32)
  for i in range(t - 1):
    flow[i] = tvl1.calc(gray[i], gray[i + 1], None)
  if t > 1:
    flow[-1] = flow[-2]
  bound = flow_codec.FLOW_BOUND
  return np.clip(flow, -bound, bound) / bound
