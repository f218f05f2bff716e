"""The JAX TV-L1 (video_flax.flow) against OpenCV's DualTVL1OpticalFlow, both
with OpenCV's default parameters: OpenCV's primitives exactly, flow values on
videos written and decoded with PyAV (known translation; a rotating,
zooming textured scene with a moving disk), and the known sub-pixel truth.

All default-parameter flows run at 64x80 one pair per call (the CPU
default): one compilation of OpenCV's defaults serves the whole file.
"""
from __future__ import annotations

import cv2
import jax.numpy as jnp
import numpy as np
import pytest

from video_flax import flow
from video_flax.data.prepare import decode
from video_flax.data.prepare import flow as prepare_flow
from video_flax.data.prepare import video_writer
from video_flax.flow import resample
from video_flax.flow import compare

H, W, PAIRS = 64, 80, 4


def scene(step, **motion) -> np.ndarray:
  """uint8 RGB [PAIRS + 1, H, W, 3], content moving by `step` px/frame."""
  return compare.moving_scene(PAIRS + 1, H, W, step, **motion)


def through_codec(frames: np.ndarray, path: str) -> np.ndarray:
  """The frames written to an H.264 mp4 with PyAV and decoded back."""
  video_writer.write_video(path, frames)
  return decode.decode_video(path).frames


epe = compare.end_point_error
as_stored = compare.as_stored


def test_primitives_equal_opencv():
  rng = np.random.default_rng(1)
  image = scene((0, 0))[0, ..., 0].astype(np.float32)
  small = cv2.resize(image, None, fx=0.8, fy=0.8,
                     interpolation=cv2.INTER_LINEAR)
  np.testing.assert_allclose(
      resample.resize_linear(jnp.asarray(image), small.shape, (1.25, 1.25)),
      small, atol=1e-3)
  np.testing.assert_allclose(
      resample.resize_linear(jnp.asarray(small), (H, W)),
      cv2.resize(small, (W, H), interpolation=cv2.INTER_LINEAR), atol=1e-3)
  ys, xs = np.mgrid[:H, :W].astype(np.float32)
  map_x = xs + rng.normal(0, 4, xs.shape).astype(np.float32)  # some outside
  map_y = ys + rng.normal(0, 4, xs.shape).astype(np.float32)
  np.testing.assert_allclose(
      resample.remap_cubic(jnp.asarray(image)[None], jnp.asarray(map_x),
                           jnp.asarray(map_y))[0],
      cv2.remap(image, map_x, map_y, cv2.INTER_CUBIC), atol=1e-2)
  np.testing.assert_array_equal(resample.median_blur5(jnp.asarray(image)),
                                cv2.medianBlur(image, 5))
  rgb = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
  np.testing.assert_array_equal(flow.rgb_to_gray(jnp.asarray(rgb)),
                                cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))


def test_pyramid_sizes_follow_opencv():
  params = flow.TVL1Params()
  assert flow.tvl1.pyramid_sizes(64, 80, params) == [
      (64, 80), (51, 64), (41, 51), (33, 41), (26, 33)]
  assert flow.tvl1.pyramid_sizes(24, 32, params) == [(24, 32), (19, 26)]
  with pytest.raises(ValueError, match="median_filtering"):
    flow.TVL1Params(median_filtering=3)


SEQUENCES = {
    "translation": dict(step=(1.5, -0.75)),
    "rotation_zoom_disk": dict(step=(0.5, 0.25), angle=2.0, zoom=1.02,
                               disk=True),
}


@pytest.mark.parametrize("name", sorted(SEQUENCES))
def test_equals_opencv_on_decoded_videos(name, tmp_path):
  frames = through_codec(scene(**SEQUENCES[name]),
                         str(tmp_path / f"{name}.mp4"))
  assert frames.shape == (PAIRS + 1, H, W, 3)
  ours = flow.consecutive_flows(frames)
  ref = compare.opencv_flows(frames, 1)
  raw, quantised = epe(ours, ref), epe(as_stored(ours), as_stored(ref))
  print(f"{name}: mean EPE JAX vs OpenCV {raw:.4f} px, stored {quantised:.4f}"
        f" px; mean |flow| {np.abs(ref).mean():.2f} px")
  assert np.abs(ref).mean() > 0.3  # there is motion to get right
  assert raw < 0.1, (name, raw)
  assert quantised < 0.25, (name, quantised)


def test_known_subpixel_translation():
  true_step = (0.6, -0.35)
  frames = scene(true_step)
  ours = flow.consecutive_flows(frames)
  ref = compare.opencv_flows(frames, 1)
  inner = (slice(None), slice(8, -8), slice(8, -8))  # away from the border
  truth = np.broadcast_to(np.float32(true_step), ours[inner].shape)
  print(f"sub-pixel translation: EPE to truth JAX {epe(ours[inner], truth):.4f}"
        f" px, OpenCV {epe(ref[inner], truth):.4f} px")
  assert epe(ours[inner], truth) < 0.1
  assert epe(ref[inner], truth) < 0.1
  assert epe(ours, ref) < 0.1


def test_tvl1_flow_backends_share_the_contract():
  frames = scene((2.0, 1.0))
  jax_flow = prepare_flow.tvl1_flow(frames, backend="jax")
  cv_flow = prepare_flow.tvl1_flow(frames, backend="opencv")
  assert jax_flow.shape == cv_flow.shape == (PAIRS + 1, H, W, 2)
  assert jax_flow.dtype == np.float32
  np.testing.assert_array_equal(jax_flow[-1], jax_flow[-2])
  assert epe(jax_flow * 20, cv_flow * 20) < 0.1
  np.testing.assert_allclose(np.median(jax_flow[:, 8:-8, 8:-8], axis=(0, 1, 2)),
                             [0.1, 0.05], atol=0.01)  # 2 px right, 1 px down
  with pytest.raises(ValueError, match="backend"):
    prepare_flow.tvl1_flow(frames, backend="torch")


def test_batches_pad_and_keep_each_pairs_result():
  """A batch runs to its slowest pair, yet each pair gets its own result;
  the last batch is padded (few scales and iterations: a quick compile)."""
  params = flow.TVL1Params(num_scales=1, warps=1, inner_iterations=5,
                           outer_iterations=2, median_filtering=1)
  frames = np.concatenate([scene((2.0, 1.0))[:3], scene((0.0, 0.0))[:2]])
  frames = np.ascontiguousarray(frames[:, :32, :40])
  batched = flow.consecutive_flows(frames, batch_size=3, params=params)
  alone = np.concatenate([flow.consecutive_flows(frames[i:i + 2], 3, params)
                          for i in range(len(frames) - 1)])
  assert batched.shape == (4, 32, 40, 2)
  np.testing.assert_allclose(batched, alone, atol=1e-5)
  assert np.abs(batched[3]).max() < 1e-3  # a static pair stays still
  with pytest.raises(ValueError, match="batch_size"):
    flow.consecutive_flows(frames, batch_size=-1)
