"""Dense and grouped convs (kernel [kt, kh, kw, C_in / groups, C_out]) in
XLA:CPU's fast terms: 2D convs per temporal tap (or with the taps stacked on
the channel axis for narrow inputs), differentiated by autodiff. Part of the
fast forms of conv_forms.py (its docstring and docs/conv_speed.md say when
they run and why).
"""
from __future__ import annotations

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


def _temporal_terms(xp: Array, kernel: Array, stride: int, num_frames: int,
                    groups: int) -> list[tuple[Array, Array]]:
  """(frames [B*T', H, W, C'], kernel [kh, kw, C'/groups, C_out]) pairs whose
  2D convs sum to the 3D conv: one per temporal tap, or for narrow inputs
  (`_FOLD_TAPS_MAX_IN`) one with the taps stacked on the channel axis."""
  batch, kt, c_in = xp.shape[0], kernel.shape[0], xp.shape[-1]
  taps = [lax.slice_in_dim(xp, a, a + (num_frames - 1) * stride + 1, stride,
                           axis=1) for a in range(kt)]
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
  dx and dkernel come from autodiff (2D convs). (A patch-matrix dkernel
  won 1.3-2x for C_out >= 32 while XLA:CPU ran 2D convs on YNNPACK; on
  Eigen's convs (`cpu_compile`) autodiff is as fast or faster: r3d_18's stem
  2x, its 64 -> 64 convs 1.14x. docs/conv_speed.md.)
  """
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
