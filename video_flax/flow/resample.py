"""OpenCV's image primitives as TV-L1 uses them, in JAX, to the last detail.

`resize_linear` is cv2.resize(INTER_LINEAR) on float32, `remap_cubic` is
cv2.remap(INTER_CUBIC, BORDER_CONSTANT 0) (OpenCV 5 samples float maps at
their exact position; 4.x rounded them to 1/32 px), `median_blur5` is
cv2.medianBlur(ksize=5) on float32 (replicated border), `centered_gradient`
the central difference of opencv_contrib's tvl1flow.cpp. They take one
image [H, W] (remap: several sampled alike); vmap for batches. Resize index
and weight tables are numpy constants built at trace time (static shapes).
"""
from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

_CUBIC_A = -0.75  # OpenCV's bicubic kernel parameter


def _linear_taps(src: int, dst: int, scale: float) -> tuple[np.ndarray, ...]:
  """Source indices i0, i1 and weights w0, w1 of OpenCV's 1-D linear resize
  (half-pixel centres, the edge sample repeated outside)."""
  pos = ((np.arange(dst) + 0.5) * scale - 0.5).astype(np.float32)
  i0 = np.floor(pos).astype(np.int32)
  frac = pos - i0.astype(np.float32)
  low, high = i0 < 0, i0 >= src - 1
  frac[low | high] = 0.0
  i0 = np.clip(i0, 0, src - 1)
  i1 = np.minimum(i0 + 1, src - 1)
  return i0, i1, (1.0 - frac).astype(np.float32), frac


def resize_linear(image: jnp.ndarray, size: tuple[int, int],
                  scale: tuple[float, float] | None = None) -> jnp.ndarray:
  """cv2.resize(image, (w, h), INTER_LINEAR) for float32 [H, W] -> [h, w].

  `scale` (y, x) is the source step per output pixel; OpenCV uses 1/fx when
  called with fx, fy and the size ratio when called with a size.
  """
  (src_h, src_w), (h, w) = image.shape, size
  sy, sx = scale if scale is not None else (src_h / h, src_w / w)
  x0, x1, a0, a1 = _linear_taps(src_w, w, sx)
  y0, y1, b0, b1 = _linear_taps(src_h, h, sy)
  rows = image[:, x0] * a0 + image[:, x1] * a1  # horizontal pass first
  return rows[y0] * b0[:, None] + rows[y1] * b1[:, None]


def _cubic_weights(frac: jnp.ndarray) -> jnp.ndarray:
  """[...] in [0, 1) -> [..., 4]: OpenCV's interpolateCubic coefficients of
  the taps at -1, 0, 1, 2."""
  a = _CUBIC_A
  c0 = ((a * (frac + 1) - 5 * a) * (frac + 1) + 8 * a) * (frac + 1) - 4 * a
  c1 = ((a + 2) * frac - (a + 3)) * frac * frac + 1
  c2 = ((a + 2) * (1 - frac) - (a + 3)) * (1 - frac) * (1 - frac) + 1
  return jnp.stack([c0, c1, c2, 1 - c0 - c1 - c2], axis=-1)


def remap_cubic(images: jnp.ndarray, map_x: jnp.ndarray, map_y: jnp.ndarray
                ) -> jnp.ndarray:
  """cv2.remap(img, map_x, map_y, INTER_CUBIC) of each image, zero outside.

  Args:
    images: float32 [N, H, W], all sampled at the same positions.
    map_x, map_y: float32 [H, W] source column and row of each output pixel.

  Returns:
    float32 [N, H, W].
  """
  n, h, w = images.shape
  fx, fy = jnp.floor(map_x), jnp.floor(map_y)
  wx, wy = _cubic_weights(map_x - fx), _cubic_weights(map_y - fy)
  cols = fx.astype(jnp.int32)[..., None] + jnp.arange(-1, 3)  # [H, W, 4]
  rows = fy.astype(jnp.int32)[..., None] + jnp.arange(-1, 3)
  inside_x = (cols >= 0) & (cols < w)
  inside_y = (rows >= 0) & (rows < h)
  cols, rows = jnp.clip(cols, 0, w - 1), jnp.clip(rows, 0, h - 1)
  inside = inside_y[..., :, None] & inside_x[..., None, :]  # [H, W, 4, 4]
  weights = jnp.where(inside, wy[..., :, None] * wx[..., None, :], 0.0)
  index = rows[..., :, None] * w + cols[..., None, :]  # [H, W, 4, 4]
  taps = images.reshape(n, h * w)[:, index]
  return jnp.sum(jnp.sum(taps * weights, axis=-1), axis=-1)


@functools.lru_cache(maxsize=None)
def _median_network(n: int) -> tuple[tuple[int, int], ...]:
  """Comparators (i, j), i < j, of Batcher's odd-even merge sort on n inputs
  (the power-of-two network with comparators past n dropped: those would
  only move +inf padding)."""
  size = 1 << (n - 1).bit_length()
  pairs, p = [], 1
  while p < size:
    k = p
    while k >= 1:
      for j in range(k % p, size - k, 2 * k):
        for i in range(min(k, size - j - k)):
          if (i + j) // (2 * p) == (i + j + k) // (2 * p):
            pairs.append((i + j, i + j + k))
      k //= 2
    p *= 2
  return tuple((i, j) for i, j in pairs if j < n)


def median_blur5(image: jnp.ndarray) -> jnp.ndarray:
  """cv2.medianBlur(image, 5) for float32 [H, W] (edge pixels repeated)."""
  h, w = image.shape
  padded = jnp.pad(image, 2, mode="edge")
  values = [padded[dy:dy + h, dx:dx + w] for dy in range(5) for dx in range(5)]
  for i, j in _median_network(25):  # XLA drops what the median does not use
    values[i], values[j] = (jnp.minimum(values[i], values[j]),
                            jnp.maximum(values[i], values[j]))
  return values[12]


def centered_gradient(image: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
  """(d/dx, d/dy) of float32 [H, W]: half the central difference, half the
  one-sided difference on the border (tvl1flow.cpp's centeredGradient)."""
  padded = jnp.pad(image, 1, mode="edge")
  dx = 0.5 * (padded[1:-1, 2:] - padded[1:-1, :-2])
  dy = 0.5 * (padded[2:, 1:-1] - padded[:-2, 1:-1])
  return dx, dy
