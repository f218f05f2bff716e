"""TV-L1 optical flow (Zach, Pock, Bischof 2007; Wedel et al. 2009) in JAX.

The dual algorithm exactly as opencv_contrib's DualTVL1OpticalFlow runs it
(modules/optflow/src/tvl1flow.cpp, gamma = 0): an image pyramid made with
bilinear resizes by `scale_step` (no blur), down to 16 px; on each scale
`warps` times: warp I1 and its central-difference gradient by the current
flow with bicubic remap, then up to `outer_iterations` x `inner_iterations`
primal-dual steps (thresholding, divergence, forward gradient), a 5x5
median filter of the flow before each inner run, stopping once the summed
squared update falls to epsilon^2 * H * W; the flow goes up a scale with a
bilinear resize times 1 / scale_step. float32 throughout; one pair is
written for [H, W] images and `flow_batch` vmaps and jits it.
"""
from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from video_flax.flow import resample


@dataclasses.dataclass(frozen=True)
class TVL1Params:
  """cv2.optflow.DualTVL1OpticalFlow_create()'s defaults (gamma = 0)."""
  tau: float = 0.25
  lambda_: float = 0.15
  theta: float = 0.3
  num_scales: int = 5
  warps: int = 5
  epsilon: float = 0.01
  inner_iterations: int = 30
  outer_iterations: int = 10
  scale_step: float = 0.8
  median_filtering: int = 5

  def __post_init__(self):
    if self.median_filtering not in (0, 1, 5):
      raise ValueError(f"median_filtering must be 0, 1 (off) or 5, got "
                       f"{self.median_filtering}")
    if self.num_scales < 1 or self.warps < 1 or not 0 < self.scale_step < 1:
      raise ValueError(f"bad TV-L1 parameters: {self}")


def pyramid_sizes(height: int, width: int, params: TVL1Params
                  ) -> list[tuple[int, int]]:
  """(h, w) of each scale, finest first: OpenCV's rounded sizes, stopping
  before a side would fall under 16 px."""
  sizes = [(height, width)]
  for _ in range(1, params.num_scales):
    h, w = sizes[-1]
    # Python's round is half-to-even like OpenCV's cvRound.
    h, w = round(h * params.scale_step), round(w * params.scale_step)
    if h < 16 or w < 16:
      break
    sizes.append((h, w))
  return sizes


def _divergence(p1: jnp.ndarray, p2: jnp.ndarray) -> jnp.ndarray:
  """Backward-difference divergence; p is taken as 0 before row/column 0."""
  return (p1 - jnp.pad(p1[:, :-1], ((0, 0), (1, 0)))
          + p2 - jnp.pad(p2[:-1], ((1, 0), (0, 0))))


def _forward_gradient(u: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
  """Forward differences, 0 in the last column (x) and last row (y)."""
  ux = jnp.pad(u[:, 1:] - u[:, :-1], ((0, 0), (0, 1)))
  uy = jnp.pad(u[1:] - u[:-1], ((0, 1), (0, 0)))
  return ux, uy


def _threshold(warped, u1, u2, l_t):
  """The thresholding step TH: v = u + d minimising the linearised data term."""
  i1wx, i1wy, grad, rho_c = warped
  rho = rho_c + (i1wx * u1 + i1wy * u2)
  safe_grad = jnp.where(grad > np.finfo(np.float32).eps, grad, 1.0)
  inside = jnp.where(grad > np.finfo(np.float32).eps, -rho / safe_grad, 0.0)
  step = jnp.where(rho < -l_t * grad, l_t,
                   jnp.where(rho > l_t * grad, -l_t, inside))
  return u1 + step * i1wx, u2 + step * i1wy


def _primal_dual_step(warped, u, p, params: TVL1Params):
  """One inner iteration. u: (u1, u2) [H, W]; p: (p11, p12, p21, p22) [H, W].
  Returns new u, p and the summed squared change of u."""
  l_t = np.float32(params.lambda_ * params.theta)
  taut = np.float32(params.tau / params.theta)
  theta = np.float32(params.theta)
  v1, v2 = _threshold(warped, u[0], u[1], l_t)
  new_u = (v1 + theta * _divergence(p[0], p[1]),
           v2 + theta * _divergence(p[2], p[3]))
  error = jnp.sum(jnp.square(new_u[0] - u[0]) + jnp.square(new_u[1] - u[1]))
  new_p = []
  for k in range(2):
    ux, uy = _forward_gradient(new_u[k])
    norm = 1.0 + taut * jnp.sqrt(ux * ux + uy * uy)
    new_p += [(p[2 * k] + taut * ux) / norm, (p[2 * k + 1] + taut * uy) / norm]
  return new_u, tuple(new_p), error


def _warp(i0, i1, i1_grad, u):
  """I1 and its gradient sampled at x + u, and the constant part of rho."""
  h, w = i0.shape
  map_x = jnp.arange(w, dtype=jnp.float32)[None, :] + u[0]
  map_y = jnp.arange(h, dtype=jnp.float32)[:, None] + u[1]
  i1w, i1wx, i1wy = resample.remap_cubic(jnp.stack([i1, *i1_grad]),
                                         map_x, map_y)
  rho_c = i1w - i1wx * u[0] - i1wy * u[1] - i0
  return i1wx, i1wy, i1wx * i1wx + i1wy * i1wy, rho_c


def _solve_warp(warped, u, p, params: TVL1Params, stop: jnp.ndarray):
  """Median filter + inner iterations, repeated, until the update is small."""
  big = jnp.float32(np.finfo(np.float32).max)

  def inner(state):
    n, error, u, p = state
    u, p, error = _primal_dual_step(warped, u, p, params)
    return n + 1, error, u, p

  def outer(state):
    n, error, u, p = state
    if params.median_filtering > 1:
      u = tuple(resample.median_blur5(c) for c in u)
    _, error, u, p = jax.lax.while_loop(
        lambda s: (s[1] > stop) & (s[0] < params.inner_iterations),
        inner, (0, error, u, p))
    return n + 1, error, u, p

  _, _, u, p = jax.lax.while_loop(
      lambda s: (s[1] > stop) & (s[0] < params.outer_iterations),
      outer, (0, big, u, p))
  return u, p


def _solve_scale(i0, i1, u, params: TVL1Params):
  """`warps` rounds of warping and solving on one scale; u: (u1, u2)."""
  h, w = i0.shape
  stop = jnp.float32(params.epsilon * params.epsilon * h * w)
  i1_grad = resample.centered_gradient(i1)
  zeros = jnp.zeros_like(i0)

  def one_warp(_, state):
    u, p = state
    return _solve_warp(_warp(i0, i1, i1_grad, u), u, p, params, stop)

  u, _ = jax.lax.fori_loop(0, params.warps, one_warp, (u, (zeros,) * 4))
  return u


def flow_pair(i0: jnp.ndarray, i1: jnp.ndarray,
              params: TVL1Params = TVL1Params()) -> jnp.ndarray:
  """TV-L1 flow from grayscale i0 to i1, float32 [H, W] in 0..255 ->
  float32 [H, W, 2] (x, y) in pixels: i0(p) ~ i1(p + flow(p))."""
  sizes = pyramid_sizes(*i0.shape, params)
  down = (1 / params.scale_step,) * 2
  pyramid = [(i0, i1)]
  for size in sizes[1:]:
    pyramid.append(tuple(resample.resize_linear(im, size, down)
                         for im in pyramid[-1]))
  u = (jnp.zeros(sizes[-1], jnp.float32),) * 2
  for level in range(len(sizes) - 1, -1, -1):
    u = _solve_scale(*pyramid[level], u, params)
    if level:
      up = np.float32(1 / params.scale_step)
      u = tuple(resample.resize_linear(c, sizes[level - 1]) * up for c in u)
  return jnp.stack(u, axis=-1)


@functools.partial(jax.jit, static_argnames="params")
def flow_batch(i0: jnp.ndarray, i1: jnp.ndarray,
               params: TVL1Params = TVL1Params()) -> jnp.ndarray:
  """flow_pair over a batch: float32 [B, H, W] x 2 -> float32 [B, H, W, 2].
  Loops run until every pair of the batch has stopped; each pair's result
  is the one it would have alone."""
  return jax.vmap(functools.partial(flow_pair, params=params))(i0, i1)


def rgb_to_gray(frames: jnp.ndarray) -> jnp.ndarray:
  """uint8 RGB [..., 3] -> float32 [...] in 0..255, rounded to integers
  exactly as cv2.cvtColor(COLOR_RGB2GRAY) does (15-bit fixed point)."""
  rgb = frames.astype(jnp.int32)
  gray = (rgb[..., 0] * 9798 + rgb[..., 1] * 19235 + rgb[..., 2] * 3735
          + (1 << 14)) >> 15
  return gray.astype(jnp.float32)
