"""Dense and grouped convs (kernel [kt, kh, kw, C_in / groups, C_out]) in
XLA:CPU's fast terms: 2D convs per temporal tap (or with the taps stacked on
the channel axis for narrow inputs), differentiated by autodiff. Part of the
fast forms of conv_forms.py (its docstring and docs/conv_speed.md say when
they run and why).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

from video_flax.models.conv_forms import (Array, Ints, Pads, _accum_dtype,
                                          _geometry, _pad_spatial)

_DN_2D = ("NHWC", "HWIO", "NHWC")


def _split_groups(x: Array, groups: int) -> list[Array]:
  """Splits the last axis into `groups` equal parts."""
  return jnp.split(x, groups, axis=-1) if groups > 1 else [x]


# Inputs with at most this many channels (RGB, flow: the stems) have their
# temporal taps stacked into channels, one 2D conv instead of kt summed ones:
# XLA:CPU's 2D conv is slow on 3 input channels (the tiny CSN's 3x7x7 stem,
# 24 outputs: 73 -> 23 ms forward, its train step 192 -> 92 ms; r3d_18's stem
# 1.25x, I3D's 1.0x); wider inputs gain nothing (0.9-1.0x, conv_speed.md).
_FOLD_TAPS_MAX_IN = 4


def _temporal_taps(xp: Array, kt: int, stride: int, num_frames: int
                   ) -> list[Array]:
  """The kt slices [B, T', H, W, C] of T-padded xp that the temporal taps of
  a stride-`stride` conv with T' = num_frames outputs multiply."""
  return [lax.slice_in_dim(xp, a, a + (num_frames - 1) * stride + 1, stride,
                           axis=1) for a in range(kt)]


def _temporal_terms(xp: Array, kernel: Array, stride: int, num_frames: int,
                    groups: int) -> list[tuple[Array, Array]]:
  """(frames [B*T', H, W, C'], kernel [kh, kw, C'/groups, C_out]) pairs whose
  2D convs sum to the 3D conv: one per temporal tap, or for narrow inputs
  (`_FOLD_TAPS_MAX_IN`) one with the taps stacked on the channel axis."""
  batch, kt, c_in = xp.shape[0], kernel.shape[0], xp.shape[-1]
  taps = _temporal_taps(xp, kt, stride, num_frames)
  if groups == 1 and kt > 1 and c_in <= _FOLD_TAPS_MAX_IN:
    stacked = jnp.concatenate(taps, axis=-1)  # channels ordered (a, c)
    folded = jnp.transpose(kernel, (1, 2, 0, 3, 4)).reshape(
        *kernel.shape[1:3], kt * c_in, kernel.shape[-1])
    return [(stacked.reshape(batch * num_frames, *xp.shape[2:4], kt * c_in),
             folded)]
  return [(frames.reshape(batch * num_frames, *xp.shape[2:]), kernel[a])
          for a, frames in enumerate(taps)]


def dense_conv3d(x: Array, kernel: Array, strides: Ints, padding: Pads,
                 groups: int) -> Array:
  """Dense or grouped conv of any kernel size, as 2D convs (one per group)
  of `_temporal_terms`, summed.

  x [B, T, H, W, C_in], kernel [kt, kh, kw, C_in/groups, C_out] ->
  [B, T', H', W', C_out]; `strides`, `padding`, `groups` are static.
  XLA:CPU runs 2D convs fast but 3D (and grouped) ones through a slow
  generic loop, so T is folded into the batch. H, W padding stays inside the
  2D convs (a pre-padded VALID stride-1 2D conv is ~4x slower): an all-zero
  padding gets one extra row, cropped off.
  dx comes from autodiff (2D convs); dkernel too, or where `_swap_dkernel`
  says so from `_dkernel_swapped`. (A patch-matrix dkernel won 1.3-2x for
  C_out >= 32 while XLA:CPU ran 2D convs on YNNPACK; on Eigen's convs
  (`cpu_compile`) autodiff was as fast or faster: r3d_18's stem 2x, its
  64 -> 64 convs 1.14x. docs/conv_speed.md.)
  """
  if _swap_dkernel(kernel.shape, strides, padding, groups):
    return _conv_swapped_dkernel(x, kernel, strides, padding)
  return _conv2d_sum(x, kernel, strides, padding, groups)


def _conv2d_sum(x: Array, kernel: Array, strides: Ints, padding: Pads,
                groups: int) -> Array:
  """`dense_conv3d`'s forward (differentiable by autodiff)."""
  dtype = jnp.result_type(x, kernel)
  acc = _accum_dtype(dtype)
  out = _geometry(x.shape, kernel.shape[:3], strides, padding)
  batch = x.shape[0]
  # Pad T; crop negative H, W pads; the rest of H, W goes to the 2D convs.
  xp = _pad_spatial(x, (padding[0], *((min(lo, 0), min(hi, 0))
                                      for lo, hi in padding[1:])))
  conv_pad = [(max(lo, 0), max(hi, 0)) for lo, hi in padding[1:]]
  extra_row = strides[1:] == (1, 1) and conv_pad == [(0, 0), (0, 0)]
  if extra_row:
    conv_pad[0] = (0, 1)
  y = None
  for frames, kernel_2d in _temporal_terms(xp, kernel, strides[0], out[0],
                                           groups):
    parts = [lax.conv_general_dilated(xg.astype(acc), kg.astype(acc),
                                      strides[1:], conv_pad,
                                      dimension_numbers=_DN_2D)
             for xg, kg in zip(_split_groups(frames, groups),
                               _split_groups(kernel_2d, groups))]
    term = jnp.concatenate(parts, axis=-1) if groups > 1 else parts[0]
    y = term if y is None else y + term
  if extra_row:
    y = y[:, :out[1]]
  return y.reshape(batch, *out, kernel.shape[-1]).astype(dtype)


# dkernel: XLA writes the filter gradient of a 2D conv as a conv whose input
# is x transposed to [C_in, H, W, N] (N = clips x frames, contracted), one
# transpose per temporal tap, with x's producer (BN, ReLU) fused in: r3d_18
# b4 spent 1.9 s of its 8.2 s train step in the 12 of them at 16x56^2 x 64.
# Swapped roles, dy [O, H, W, N] as the 2D conv's input and each tap of x
# [H, W, N, C_in] as its kernel, leave x a cheap transpose (C_in stays
# minor) and dy one per conv (`_channels_major`). r3d_18 and mc3_18 train
# steps b4 1.17x, r2plus1d_18 and s3d unchanged (docs/conv_speed.md).
# Strided (H, W) convs, negative or >= k pads, and the stacked-taps stems
# keep autodiff.


def _swap_dkernel(kernel_shape: Ints, strides: Ints, padding: Pads,
                  groups: int) -> bool:
  """Whether `_dkernel_swapped` computes dkernel (see the comment above)."""
  kh, kw, c_in = kernel_shape[1:4]
  return (groups == 1 and strides[1:] == (1, 1) and c_in > _FOLD_TAPS_MAX_IN
          and all(0 <= lo < k and 0 <= hi < k for (lo, hi), k
                  in zip(padding[1:], (kh, kw))))


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _conv_swapped_dkernel(x: Array, kernel: Array, strides: Ints,
                          padding: Pads) -> Array:
  return _conv2d_sum(x, kernel, strides, padding, 1)


def _swapped_forward(x: Array, kernel: Array, strides: Ints, padding: Pads
                     ) -> tuple[Array, tuple[Array, Array]]:
  return _conv2d_sum(x, kernel, strides, padding, 1), (x, kernel)


def _swapped_backward(strides: Ints, padding: Pads,
                      residuals: tuple[Array, Array], dy: Array
                      ) -> tuple[Array, Array]:
  x, kernel = residuals
  _, dx_of = jax.vjp(
      lambda x: _conv2d_sum(x, kernel, strides, padding, 1), x)
  (dx,) = dx_of(dy)
  dk = _dkernel_swapped(x, dy, kernel.shape, strides[0], padding)
  return dx, dk.astype(kernel.dtype)


_conv_swapped_dkernel.defvjp(_swapped_forward, _swapped_backward)


def _dkernel_swapped(x: Array, dy: Array, kernel_shape: Ints, stride_t: int,
                     padding: Pads) -> Array:
  """dkernel of a (H, W)-stride-1 dense conv with dy as a 2D conv's input.

  x [B, T, H, W, C_in], dy [B, T', H', W', C_out] -> [kt, kh, kw, C_in,
  C_out] in the accumulation dtype. Per tap a, over the frames n it
  multiplies: out[o, u, v, c] = sum_{n,h,w} dy_pad[n, h + u, w + v, o] *
  x_a[n, h, w, c], dy padded by (k - 1 - lo, k - 1 - hi) on H and W, is
  dkernel[a, kh - 1 - u, kw - 1 - v, c, o] (flipped).
  """
  kt, kh, kw, c_in = kernel_shape[:4]
  acc = _accum_dtype(jnp.result_type(x, dy))
  num_frames = dy.shape[1]
  xp = _pad_spatial(x, (padding[0], (0, 0), (0, 0)))
  n = dy.shape[0] * num_frames
  dy_t = _channels_major(dy.astype(acc))
  pads = [(k - 1 - lo, k - 1 - hi)
          for (lo, hi), k in zip(padding[1:], (kh, kw))]
  taps = []
  for frames in _temporal_taps(xp, kt, stride_t, num_frames):
    x_a = jnp.transpose(frames.astype(acc), (2, 3, 0, 1, 4)).reshape(
        *x.shape[2:4], n, c_in)
    out = lax.conv_general_dilated(dy_t, x_a, (1, 1), pads,
                                   dimension_numbers=_DN_2D)  # [O, kh, kw, C]
    taps.append(jnp.transpose(out[:, ::-1, ::-1], (1, 2, 3, 0)))
  return jnp.stack(taps)


def _channels_major(dy: Array) -> Array:
  """dy [B, T, H, W, O] -> [O, H, W, B * T], as an identity dot, then a
  transpose within each channel.

  A plain transpose is as fast as a copy, but XLA fuses dy's producer (BN's
  backward: 2-3 tensors) into it and then reads all of them in transposed
  order (r3d_18 b4, 16x56^2 x 64: 214 ms against 55 ms this way). A dot
  cannot take that fusion, and it writes [O, B * T * H * W] in order. (A
  non-finite dy spreads to every channel of its position: the gradient is
  non-finite either way.)
  """
  c_out = dy.shape[-1]
  n, area = dy.shape[0] * dy.shape[1], dy.shape[2] * dy.shape[3]
  by_channel = lax.dot_general(jnp.eye(c_out, dtype=dy.dtype),
                               dy.reshape(-1, c_out), (((1,), (1,)), ((), ())))
  return jnp.transpose(by_channel.reshape(c_out, n, area), (0, 2, 1)).reshape(
      c_out, *dy.shape[2:4], n)
