"""How optical flow is stored: [-1, 1] (pixels / FLOW_BOUND) quantised to
uint8, x and y side by side in one grayscale JPEG ([H, 2W]), the usual way
flow is kept on disk. Written by prepare/ (TV-L1 flow) and the synthetic
set (its exact flow), read by the real-video pipeline.

Flow frame t is the flow from RGB frame t to frame t + 1, so an RGB clip and
its flow clip share indices.
"""
from __future__ import annotations

import cv2
import numpy as np

FLOW_BOUND = 20.0  # pixels per frame; I3D clips flow to [-20, 20]


def flow_to_uint8(flow: np.ndarray) -> np.ndarray:
  """float [...] in [-1, 1] -> uint8 round((f + 1) * 127.5); back with
  x / 127.5 - 1 (augment.BYTES_TO_UNIT), 20 / 127.5 = 0.16 px per step."""
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
  ok, buf = cv2.imencode(".jpg", quantize_flow(flow),
                         [cv2.IMWRITE_JPEG_QUALITY, quality])
  if not ok:
    raise ValueError(f"JPEG encoding failed for a flow frame of shape "
                     f"{flow.shape}")
  return buf.tobytes()


def decode_flow_jpeg(data: bytes) -> np.ndarray:
  """Grayscale JPEG bytes -> float32 [H, W, 2] in [-1, 1]."""
  packed = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
  if packed is None:
    raise ValueError("corrupt flow JPEG in a prepared record")
  return dequantize_flow(packed)
