"""TV-L1 flow speed and agreement: OpenCV (1 thread, all threads) vs JAX.

    python -m video_flax.tools.benchmark_flow [--height 256] [--width 340] \\
        [--pairs 8] [--batch_size 0] [--repeats 3]

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

from absl import flags
import cv2
import jax
import numpy as np

from video_flax import errors
from video_flax import flow
from video_flax.flow import compare

_HEIGHT = flags.DEFINE_integer("height", 256, "frame height")
_WIDTH = flags.DEFINE_integer("width", 340, "frame width")
_PAIRS = flags.DEFINE_integer("pairs", 8, "frame pairs per timing")
_BATCH = flags.DEFINE_integer("batch_size", 0, "JAX frame pairs per call; "
                              "0: the platform's default (1 on CPU)")
_REPEATS = flags.DEFINE_integer("repeats", 3, "interleaved timing rounds")


def _timed(fn: Callable[[], np.ndarray]) -> tuple[float, np.ndarray]:
  start = time.perf_counter()
  out = fn()
  return time.perf_counter() - start, out


def main(argv) -> None:
  del argv
  pairs = _PAIRS.value
  frames = compare.moving_scene(pairs + 1, _HEIGHT.value, _WIDTH.value, step=(2, 1),
                        angle=1.0, zoom=1.01, disk=True)
  all_threads = cv2.getNumberOfCPUs()
  batch = _BATCH.value or flow.default_batch_size()
  methods = {
      "opencv, 1 thread": lambda: compare.opencv_flows(frames, 1),
      f"opencv, {all_threads} threads": lambda: compare.opencv_flows(
          frames, all_threads),
      f"jax ({jax.devices()[0].platform}), batch {batch}":
          lambda: flow.consecutive_flows(frames, batch),
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
  raw = compare.end_point_error(jax_flow, reference)
  stored = compare.end_point_error(compare.as_stored(jax_flow),
                                   compare.as_stored(reference))
  print(f"mean EPE jax vs opencv: {raw:.4f} px raw, {stored:.4f} px stored; "
        f"mean |flow| {np.abs(reference).mean():.2f} px")


if __name__ == "__main__":
  errors.run(main)
