"""TV-L1 optical flow as in I3D: grayscale, clipped to 20 px, scaled to [-1, 1].

Flow frame t is the flow from RGB frame t to frame t + 1 (the last one
repeats the one before), so an RGB clip and its flow clip share indices.
Stored flow is quantised to uint8 with x and y side by side in one
grayscale JPEG ([H, 2W]), the usual way flow is kept on disk.
"""
from __future__ import annotations

import numpy as np

from video_flax import flow as flow_lib

FLOW_BOUND = 20.0  # pixels per frame; I3D clips flow to [-20, 20]


def _cv2():
  """OpenCV, imported on first use: the numpy helpers here (used by the
  synthetic set) should not need it."""
  import cv2  # pylint: disable=g-import-not-at-top
  return cv2


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
  if backend not in ("jax", "opencv"):
    raise ValueError(f"flow backend must be 'jax' or 'opencv', got "
                     f"{backend!r}")
  flow = np.zeros(frames.shape[:3] + (2,), np.float32)
  if len(frames) > 1:
    if backend == "jax":
      flow[:-1] = flow_lib.consecutive_flows(frames, batch_size)
    else:
      flow[:-1] = _opencv_flows(frames, threads)
    flow[-1] = flow[-2]
  return np.clip(flow, -FLOW_BOUND, FLOW_BOUND) / FLOW_BOUND


def _opencv_flows(frames: np.ndarray, threads: int) -> np.ndarray:
  """uint8 RGB [T, H, W, 3] -> float32 [T - 1, H, W, 2] pixels, cv2.optflow."""
  cv2 = _cv2()
  cv2.setNumThreads(threads)
  gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
  tvl1 = cv2.optflow.DualTVL1OpticalFlow_create()
  return np.stack([tvl1.calc(gray[i], gray[i + 1], None)
                   for i in range(len(frames) - 1)])


def flow_to_uint8(flow: np.ndarray) -> np.ndarray:
  """float [...] in [-1, 1] -> uint8 round((f + 1) * 127.5); back with
  x / 127.5 - 1 (transforms.normalize), 20 / 127.5 = 0.16 px per step."""
  return np.round((np.clip(flow, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)


def quantize_flow(flow: np.ndarray) -> np.ndarray:
  """float [..., H, W, 2] in [-1, 1] -> uint8 [..., H, 2W] (x left, y right)."""
  q = flow_to_uint8(flow)
  return np.concatenate([q[..., 0], q[..., 1]], axis=-1)


def dequantize_flow(packed: np.ndarray) -> np.ndarray:
  """uint8 [..., H, 2W] -> float32 [..., H, W, 2] in [-1, 1]."""
  w = packed.shape[-1] // 2
  q = np.stack([packed[..., :w], packed[..., w:]], axis=-1)
  return q.astype(np.float32) / 127.5 - 1.0


def encode_flow_jpeg(flow: np.ndarray, quality: int = 95) -> bytes:
  """One flow frame float32 [H, W, 2] in [-1, 1] -> grayscale JPEG bytes."""
  cv2 = _cv2()
  ok, buf = cv2.imencode(".jpg", quantize_flow(flow),
                         [cv2.IMWRITE_JPEG_QUALITY, quality])
  if not ok:
    raise ValueError(f"JPEG encoding failed for a flow frame of shape "
                     f"{flow.shape}")
  return buf.tobytes()


def decode_flow_jpeg(data: bytes) -> np.ndarray:
  """Grayscale JPEG bytes -> float32 [H, W, 2] in [-1, 1]."""
  cv2 = _cv2()
  packed = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
  if packed is None:
    raise ValueError("corrupt flow JPEG in a prepared record")
  return dequantize_flow(packed)


def flip_flow_horizontally(flow: np.ndarray) -> np.ndarray:
  """Mirror [..., H, W, 2] flow left-right: reverse W and negate x."""
  flipped = flow[..., ::-1, :].copy()
  flipped[..., 0] = -flipped[..., 0]
  return flipped
