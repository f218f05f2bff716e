"""TV-L1 flow: sign and magnitude of a known translation, clipping and
scaling to [-1, 1], storage round trip, and flips negating x, with the
OpenCV backend (the JAX one is checked against it in test_tvl1_jax.py)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from video_flax.data import augment
from video_flax.data import flow_codec
from video_flax.data.prepare import flow as flow_lib


def translating_frames(dx: int, dy: int, num_frames: int = 3, size=(40, 48)
                       ) -> np.ndarray:
  """uint8 [T, H, W, 3]: a smooth random texture moved by (dx, dy) px per
  frame (x right, y down)."""
  rng = np.random.default_rng(0)
  h, w = size
  pad = 4 * max(abs(dx), abs(dy)) * num_frames + 8
  texture = rng.integers(0, 256, (h + 2 * pad, w + 2 * pad)).astype(np.uint8)
  texture = cv2.GaussianBlur(texture, (7, 7), 2.0)
  frames = []
  for i in range(num_frames):
    top, left = pad - dy * i, pad - dx * i  # content moves by +dx, +dy
    frames.append(texture[top:top + h, left:left + w])
  return np.repeat(np.stack(frames)[..., None], 3, axis=-1)


def opencv_tvl1(frames: np.ndarray) -> np.ndarray:
  return flow_lib.tvl1_flow(frames, backend="opencv")


def interior(flow: np.ndarray) -> np.ndarray:
  return flow[:, 8:-8, 8:-8]


@pytest.mark.parametrize("dx,dy", [(2, -1), (-3, 2)])
def test_translation_has_right_sign_and_magnitude(dx, dy):
  flow = opencv_tvl1(translating_frames(dx, dy))
  assert flow.shape == (3, 40, 48, 2) and flow.dtype == np.float32
  # Pixels per frame / 20 (the I3D bound), in [-1, 1].
  np.testing.assert_allclose(np.median(interior(flow), axis=(0, 1, 2)),
                             [dx / 20, dy / 20], atol=0.01)
  np.testing.assert_array_equal(flow[-1], flow[-2])  # last frame repeats


def test_clipping_and_static_video():
  big = np.full((1, 4, 4, 2), 3.0, np.float32)  # 60 px: beyond the bound
  packed = flow_codec.quantize_flow(np.clip(big, -1, 1))
  np.testing.assert_allclose(flow_codec.dequantize_flow(packed), 1.0)
  static = opencv_tvl1(translating_frames(0, 0, num_frames=2))
  assert np.abs(static).max() < 0.01
  single = opencv_tvl1(translating_frames(0, 0, num_frames=1))
  assert single.shape == (1, 40, 48, 2) and not single.any()


def test_quantised_jpeg_round_trip():
  flow = opencv_tvl1(translating_frames(2, 1, num_frames=2))[0]
  restored = flow_codec.bytes_to_flow(flow_codec.decode_flow_bytes(
      flow_codec.encode_flow_jpeg(flow)))
  assert restored.shape == flow.shape
  assert np.abs(restored - flow).max() < 0.03  # quantisation + JPEG
  exact = flow_codec.dequantize_flow(flow_codec.quantize_flow(flow))
  assert np.abs(exact - flow).max() <= 0.5 / 127.5 + 1e-6


def test_flip_matches_flow_of_mirrored_video():
  frames = translating_frames(2, 1)
  mirrored = opencv_tvl1(np.ascontiguousarray(frames[:, :, ::-1]))
  flipped = augment.flip_flow(opencv_tvl1(frames))
  np.testing.assert_allclose(np.median(interior(flipped), axis=(0, 1, 2)),
                             np.median(interior(mirrored), axis=(0, 1, 2)),
                             atol=0.01)
  np.testing.assert_allclose(np.median(interior(flipped), axis=(0, 1, 2)),
                             [-2 / 20, 1 / 20], atol=0.01)


def test_resizing_flow_scales_vectors():
  flow = np.zeros((1, 8, 8, 2), np.float32)
  flow[..., 0], flow[..., 1] = 0.1, -0.05
  box = augment.Box(top=2, left=0, height=4, width=8)  # 2x up in y, 2x in x
  out = augment.crop_resize_flow(flow, box, (8, 16))
  np.testing.assert_allclose(out[..., 0], 0.2, atol=1e-6)
  np.testing.assert_allclose(out[..., 1], -0.1, atol=1e-6)
