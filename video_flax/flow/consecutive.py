"""TV-L1 flow between consecutive video frames, batched for the accelerator."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from video_flax.flow import tvl1

# Frame pairs per call when none is given. On CPU one pair at a time is
# fastest (3.8x OpenCV vs 1.75x with 8, docs/optical_flow.md): a batch runs
# until its slowest pair stops. Accelerators need batches to fill them.
CPU_BATCH_SIZE = 1
ACCELERATOR_BATCH_SIZE = 32


def default_batch_size() -> int:
  """CPU_BATCH_SIZE on a CPU backend, else ACCELERATOR_BATCH_SIZE."""
  if jax.default_backend() == "cpu":
    return CPU_BATCH_SIZE
  return ACCELERATOR_BATCH_SIZE


def consecutive_flows(frames: np.ndarray, batch_size: int | None = None,
                      params: tvl1.TVL1Params = tvl1.TVL1Params()
                      ) -> np.ndarray:
  """Flow from each frame to the next, in pixels.

  Args:
    frames: uint8 RGB [T, H, W, 3], T >= 2.
    batch_size: frame pairs per jitted call (None: default_batch_size());
      the last batch is padded by repeating its last pair, so every call has
      the same shape and one compilation serves every video of that size.
    params: TV-L1 parameters (OpenCV's defaults).

  Returns:
    float32 [T - 1, H, W, 2]: (x, y) displacement of each pixel of frame t
    in frame t + 1, as cv2.optflow.DualTVL1OpticalFlow computes it.
  """
  if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] < 2:
    raise ValueError(f"expected RGB frames [T >= 2, H, W, 3], got "
                     f"{frames.shape}")
  batch_size = batch_size or default_batch_size()
  if batch_size < 1:
    raise ValueError(f"batch_size must be >= 1, got {batch_size}")
  gray = tvl1.rgb_to_gray(jnp.asarray(frames))
  num_pairs = frames.shape[0] - 1
  flows = []
  for start in range(0, num_pairs, batch_size):
    index = np.minimum(np.arange(start, start + batch_size), num_pairs - 1)
    flow = tvl1.flow_batch(gray[index], gray[index + 1], params)
    flows.append(np.asarray(flow)[:min(batch_size, num_pairs - start)])
  return np.concatenate(flows)
