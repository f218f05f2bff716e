"""Comparing TV-L1 flows: OpenCV's reference flow, the end-point error, the
stored (clipped, 8-bit) form, and textured moving scenes to compare on.
Used by tools/benchmark_flow.py, the tests and the OpenCV flow backend.
"""
from __future__ import annotations

import cv2
import numpy as np

from video_flax.data import flow_codec


def moving_scene(num_frames: int, height: int, width: int,
                 step: tuple[float, float] = (1.0, 0.5), angle: float = 0.0,
                 zoom: float = 1.0, disk: bool = False, seed: int = 0
                 ) -> np.ndarray:
  """uint8 RGB [T, H, W, 3] (grey): a smooth random texture whose content
  moves by `step` (x, y) px per frame, turning by `angle` degrees and
  zooming by `zoom` per frame about the texture centre; with `disk`, a
  bright disk moving 3 px right and 1 px down per frame on top."""
  rng = np.random.default_rng(seed)
  size = 2 * max(height, width)
  tex = cv2.GaussianBlur(rng.random((size, size)).astype(np.float32) * 255,
                         (0, 0), 1.0)
  tex = cv2.normalize(tex, None, 0, 255, cv2.NORM_MINMAX)
  top, left = (size - height) // 2, (size - width) // 2
  frames = []
  for i in range(num_frames):
    m = cv2.getRotationMatrix2D((size / 2, size / 2), angle * i, zoom ** i)
    m[:, 2] += [step[0] * i, step[1] * i]
    image = cv2.warpAffine(tex, m, (size, size), flags=cv2.INTER_CUBIC)
    image = image[top:top + height, left:left + width].copy()
    if disk:
      cv2.circle(image, (width // 4 + 3 * i, height // 2 + i),
                 max(height // 8, 3), 250.0, -1, cv2.LINE_AA)
    frames.append(np.round(image))
  gray = np.clip(np.stack(frames), 0, 255).astype(np.uint8)
  return np.repeat(gray[..., None], 3, axis=-1)


def opencv_flows(frames: np.ndarray, threads: int) -> np.ndarray:
  """float32 [T - 1, H, W, 2] px: cv2.optflow, default parameters."""
  cv2.setNumThreads(threads)
  gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
  tvl1 = cv2.optflow.DualTVL1OpticalFlow_create()
  return np.stack([tvl1.calc(a, b, None) for a, b in zip(gray, gray[1:])])


def end_point_error(a: np.ndarray, b: np.ndarray) -> float:
  """Mean end-point error (px) between flows [..., 2]."""
  return float(np.mean(np.sqrt(np.sum(np.square(a - b), axis=-1))))


def as_stored(flow_px: np.ndarray) -> np.ndarray:
  """Pixels after the [-20, 20] clip and 8-bit quantisation of records."""
  packed = flow_codec.quantize_flow(
      np.clip(flow_px, -flow_codec.FLOW_BOUND, flow_codec.FLOW_BOUND)
      / flow_codec.FLOW_BOUND)
  return flow_codec.dequantize_flow(packed) * flow_codec.FLOW_BOUND
