"""Max pooling in XLA:CPU's fast terms (part of the fast forms of
conv_forms.py, chosen the same way: `conv_forms.fast_forms_enabled()`).

XLA:CPU runs `lax.reduce_window` (what `nn.max_pool` is) through a generic
loop, and JAX differentiates it with a second, variadic reduce_window that
carries an s32 index per window dimension (five iota arrays the size of the
padded input) and a scatter. In S3D's training step (b1, 16x224x224) the
pools took ~0.95 s of thunk time out of ~1.8 s. Here the forward is a max over
the window's shifted (strided) slices that also records which tap won (the
first one, in window order), one elementwise fusion; the backward routes dy
to the winners with the same shifted-slice form on the stride-dilated dy
(as the depthwise conv's dx). Measurements: docs/conv_speed.md.

Layouts: x [B, T, H, W, C]; `window`, `strides` are (T, H, W) ints and
`padding` per-axis (before, after) ints (negative crops), all static.
Padded positions are -inf and never win; a NaN in a window wins it (as in
`lax.max`).
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from jax import lax

from video_flax.models.conv_forms import (Array, Ints, Pads, _geometry,
                                          _pad_spatial, _taps,
                                          _transposed_padding)


def _winner_dtype(num_taps: int) -> jnp.dtype:
  """Smallest int holding tap numbers 1..num_taps (0: no tap)."""
  return jnp.int8 if num_taps < 127 else jnp.int32


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3))
def max_pool3d(x: Array, window: Ints, strides: Ints, padding: Pads) -> Array:
  """Max pool: x [B, T, H, W, C] -> [B, T', H', W', C] (values as
  `lax.reduce_window` with max and -inf padding)."""
  return _max_and_winner(x, window, strides, padding)[0]


def _max_and_winner(x: Array, window: Ints, strides: Ints, padding: Pads
                    ) -> tuple[Array, Array]:
  """The max of each window, and 1 + the index of the tap that gave it."""
  if not jnp.issubdtype(x.dtype, jnp.floating):
    raise ValueError(f"max_pool3d needs a floating input, got {x.dtype}")
  out = _geometry(x.shape, window, strides, padding)
  config = [(0, 0, 0), *((lo, hi, 0) for lo, hi in padding), (0, 0, 0)]
  xp = lax.pad(x, jnp.array(-jnp.inf, x.dtype), config)
  winner_dtype = _winner_dtype(math.prod(window))
  y, winner = None, None
  for number, (_, part) in enumerate(_taps(xp, window, strides, out),
                                     start=1):
    if y is None:
      y, winner = part, jnp.full(part.shape, number, winner_dtype)
      continue
    wins = (part > y) | jnp.isnan(part)
    y = jnp.where(wins, part, y)
    winner = jnp.where(wins, jnp.asarray(number, winner_dtype), winner)
  return y, winner


def _max_pool_forward(x: Array, window: Ints, strides: Ints, padding: Pads
                      ) -> tuple[Array, tuple[Array, Array]]:
  y, winner = _max_and_winner(x, window, strides, padding)
  return y, (_shape_token(x), winner)


def _shape_token(x: Array) -> Array:
  """A zero-size array carrying x's shape and dtype to the backward."""
  return jnp.zeros((*x.shape[:4], 0), x.dtype)


def _max_pool_backward(window: Ints, strides: Ints, padding: Pads,
                       residuals: tuple[Array, Array], dy: Array
                       ) -> tuple[Array]:
  token, winner = residuals
  x_shape = (*token.shape[:4], dy.shape[-1])
  out = dy.shape[1:4]
  dilated = _transposed_padding(x_shape, window, strides, padding, out)
  interior = tuple(s - 1 for s in strides)
  dy_d = _pad_spatial(dy, dilated, interior)
  winner_d = _pad_spatial(winner, dilated, interior)  # 0: no window there
  dx = None
  # Tap i (0-based, `_taps`' order) of the dilated dy is the window's tap
  # (ka-1-a, ...), which is number prod(window) - i: they count down.
  for i, ((_, dy_part), (_, won)) in enumerate(zip(
      _taps(dy_d, window, (1, 1, 1), x_shape[1:4]),
      _taps(winner_d, window, (1, 1, 1), x_shape[1:4]))):
    term = jnp.where(won == math.prod(window) - i, dy_part,
                     jnp.zeros((), dy.dtype))
    dx = term if dx is None else dx + term
  return (dx.astype(token.dtype),)


max_pool3d.defvjp(_max_pool_forward, _max_pool_backward)
