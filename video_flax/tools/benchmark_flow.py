"""TV-L1 flow speed and agreement: OpenCV (1 thread, all threads) vs JAX.

    python -m video_flax.tools.benchmark_flow [--height 256] [--width 340] \\
        [--pairs 8] [--batch_size 8] [--repeats 3]

Times the same frame pairs (a textured scene rotating, zooming and panning,
with a moving disk) through cv2.optflow.DualTVL1OpticalFlow with
cv2.setNumThreads(1) and with all threads, and through video_flax.flow on
the default JAX device (compiled first, compile time printed apart). The
three are interleaved, --repeats times; the table gives the median frame
pairs/s of each and the ratios, measured in this one run. Then the mean
end-point error between the JAX and OpenCV flows, raw and as stored
(clipped to [-20, 20] px, 8-bit).
"""
from __future__ import annotations

import time
from typing import Callable

from absl import app
from absl import flags
import cv2
import jax
import numpy as np

from video_flax import flow
from video_flax.data import optical_flow

_HEIGHT = flags.DEFINE_integer("height", 256, "frame height")
_WIDTH = flags.DEFINE_integer("width", 340, "frame width")
_PAIRS = flags.DEFINE_integer("pairs", 8, "frame pairs per timing")
_BATCH = flags.DEFINE_integer("batch_size", 8, "JAX frame pairs per call")
_REPEATS = flags.DEFINE_integer("repeats", 3, "interleaved timing rounds")


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
  packed = optical_flow.quantize_flow(
      np.clip(flow_px, -optical_flow.FLOW_BOUND, optical_flow.FLOW_BOUND)
      / optical_flow.FLOW_BOUND)
  return optical_flow.dequantize_flow(packed) * optical_flow.FLOW_BOUND


def _timed(fn: Callable[[], np.ndarray]) -> tuple[float, np.ndarray]:
  start = time.perf_counter()
  out = fn()
  return time.perf_counter() - start, out


def main(argv) -> None:
  del argv
  pairs = _PAIRS.value
  frames = moving_scene(pairs + 1, _HEIGHT.value, _WIDTH.value, step=(2, 1),
                        angle=1.0, zoom=1.01, disk=True)
  all_threads = cv2.getNumberOfCPUs()
  methods = {
      "opencv, 1 thread": lambda: opencv_flows(frames, 1),
      f"opencv, {all_threads} threads": lambda: opencv_flows(frames,
                                                             all_threads),
      f"jax ({jax.devices()[0].platform}), batch {_BATCH.value}":
          lambda: flow.consecutive_flows(frames, _BATCH.value),
  }
  compile_s, _ = _timed(list(methods.values())[-1])
  print(f"{pairs} pairs of {_HEIGHT.value}x{_WIDTH.value}; JAX first call "
        f"(compiling) {compile_s:.1f} s")
  times = {name: [] for name in methods}
  outputs = {}
  for _ in range(_REPEATS.value):
    for name, fn in methods.items():
      seconds, outputs[name] = _timed(fn)
      times[name].append(seconds)
  rates = {name: pairs / float(np.median(t)) for name, t in times.items()}
  one, every, ours = rates.values()
  print(f"{'method':32s} {'pairs/s':>9s}  (seconds per round)")
  for name, rate in rates.items():
    print(f"{name:32s} {rate:9.2f}  "
          + " ".join(f"{t:.2f}" for t in times[name]))
  print(f"jax / opencv 1 thread: {ours / one:.2f}x; jax / opencv all "
        f"threads: {ours / every:.2f}x")
  reference, jax_flow = outputs[list(methods)[0]], outputs[list(methods)[-1]]
  raw = end_point_error(jax_flow, reference)
  stored = end_point_error(as_stored(jax_flow), as_stored(reference))
  print(f"mean EPE jax vs opencv: {raw:.4f} px raw, {stored:.4f} px stored; "
        f"mean |flow| {np.abs(reference).mean():.2f} px")


if __name__ == "__main__":
  app.run(main)
