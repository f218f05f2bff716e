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


def split_flow(packed: np.ndarray,
               window: tuple[slice, slice] = (slice(None), slice(None))
               ) -> np.ndarray:
  """uint8 [..., H, 2W] -> uint8 [..., h, w, 2] (x, y): the (rows, columns)
  `window` of each half (the whole of it by default)."""
  w = packed.shape[-1] // 2
  rows, cols = window
  return np.stack([packed[..., :w][..., rows, cols],
                   packed[..., w:][..., rows, cols]], axis=-1)


# q / 127.5 - 1 for every byte q, computed as bytes_to_flow's callers did
# elementwise (float32 q, then the division and the subtraction).
_BYTES_TO_FLOW = np.arange(256).astype(np.float32) / 127.5 - 1.0


def bytes_to_flow(q: np.ndarray, negate_x: bool = False) -> np.ndarray:
  """uint8 [...] -> float32 q / 127.5 - 1 in [-1, 1] (one table lookup);
  with negate_x, q is [..., W, 2] and x comes out negated (exactly)."""
  shape, q = q.shape, np.ascontiguousarray(q)
  if negate_x:  # q viewed as a 2-channel image, one table per channel
    flat = q.reshape(-1, shape[-2], 2)
    table = np.stack([-_BYTES_TO_FLOW, _BYTES_TO_FLOW], -1)[None]
  else:
    flat, table = q.reshape(-1, shape[-1] if q.ndim else 1), _BYTES_TO_FLOW[None]
  return cv2.LUT(flat, table).reshape(shape)


def dequantize_flow(packed: np.ndarray) -> np.ndarray:
  """uint8 [..., H, 2W] -> float32 [..., H, W, 2] in [-1, 1]."""
  return bytes_to_flow(split_flow(packed))


def encode_flow_jpeg(flow: np.ndarray, quality: int = 95) -> bytes:
  """One flow frame float32 [H, W, 2] in [-1, 1] -> grayscale JPEG bytes."""
  ok, buf = cv2.imencode(".jpg", quantize_flow(flow),
                         [cv2.IMWRITE_JPEG_QUALITY, quality])
  if not ok:
    raise ValueError(f"JPEG encoding failed for a flow frame of shape "
                     f"{flow.shape}")
  return buf.tobytes()


def decode_flow_bytes(data: bytes,
                      window: tuple[slice, slice] = (slice(None), slice(None))
                      ) -> np.ndarray:
  """Grayscale JPEG bytes -> uint8 [h, w, 2] (x, y; see bytes_to_flow): the
  (rows, columns) `window` of the frame (all of it by default)."""
  packed = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
  if packed is None:
    raise ValueError("corrupt flow JPEG in a prepared record")
  return split_flow(packed, window)
