"""Fast forms of 3D convolution for XLA:CPU, and the choice between forms.

XLA:CPU runs `lax.conv_general_dilated` on 3D inputs through a slow generic
loop (~3-10 GFLOP/s dense; a depthwise conv hundreds of times slower than
elementwise code), while elementwise fusions, `dot` and 2D convs run well.
The forms here rewrite each conv in those terms:

  depthwise (groups = C_in = C_out): a sum of shifted slices times the
    per-channel taps, with a custom VJP (dx: the same form on dy; dkernel:
    per-tap sums over blocks of outputs);
  kernel kt x 1 x 1 (1x1x1 included): one dot per temporal tap (for
    kt > 1 on large frames, f32, the forward as one 2D conv over
    (T, H' * W'), the gradients the dots');
  any other kernel, grouped or not (dense_conv_forms.py): 2D convs per
    temporal tap, T folded into the batch (for inputs of <= 4 channels the
    taps stacked on the channel axis, one 2D conv), autodiff for dx, and
    for dkernel too except where `_dkernel_swapped` runs it. The library
    compiles these 2D convs with Eigen rather than YNNPACK
    (`cpu_compile.py`: 2x here).
Max pooling has a fast form too (pool_forms.py): a max over shifted slices
that records the winning tap, its gradient routed to the winners by the
depthwise dx's shifted-slice form.

Measurements behind each choice: docs/conv_speed.md. GPU and TPU keep
`lax.conv_general_dilated` (cuDNN / the TPU conv unit are good at it).

Layouts as in `layers.py`: x [B, T, H, W, C], kernel [kt, kh, kw, C_in /
groups, C_out]; `padding` is per-axis (before, after), any ints, negative
ones crop (as in `lax.conv_general_dilated`).

The form is chosen at trace time by `fast_forms_enabled()`: environment
variable `VIDEO_FLAX_CONV_FORM` = auto (default) | fast | reference, or the
module attribute `FORM` (same values; wins when not None). A change affects
functions traced afterwards, not already-compiled ones.
"""
from __future__ import annotations

import functools
import itertools
import os
from typing import Callable, Iterator, Sequence

import jax
import jax.numpy as jnp
from jax import lax

Array = jax.Array
Pads = tuple[tuple[int, int], ...]
Ints = tuple[int, ...]

FORM: str | None = None
_FORMS = ("auto", "fast", "reference")


def chosen_form() -> str:
  """`FORM`, else `VIDEO_FLAX_CONV_FORM` (default auto); a ValueError naming
  a bad one. Reads no backend."""
  value = FORM if FORM is not None else os.environ.get(
      "VIDEO_FLAX_CONV_FORM", "auto")
  if value not in _FORMS:
    raise ValueError(f"conv form {value!r} (from conv_forms.FORM or "
                     f"VIDEO_FLAX_CONV_FORM) is not one of {_FORMS}")
  return value


def fast_forms_enabled() -> bool:
  """True when convs should use the fast forms of this module."""
  value = chosen_form()
  if value == "auto":
    return jax.default_backend() == "cpu"
  return value == "fast"


def output_size(size: int, k: int, stride: int, pad: tuple[int, int]) -> int:
  """Output length of a VALID conv after padding (as lax computes it)."""
  return (size + pad[0] + pad[1] - k) // stride + 1


def _accum_dtype(dtype: jnp.dtype) -> jnp.dtype:
  """Sums run in at least float32 (bf16 inputs keep f32 partial sums)."""
  return jnp.promote_types(dtype, jnp.float32)


def _pad_spatial(x: Array, padding: Pads, interior: Ints = (0, 0, 0)) -> Array:
  """Pads (or crops, for negative pads) the T, H, W axes of [B,T,H,W,C]."""
  config = [(0, 0, 0)] + [(lo, hi, i) for (lo, hi), i in zip(padding, interior)]
  return lax.pad(x, jnp.zeros((), x.dtype), config + [(0, 0, 0)])


def _taps(xp: Array, kernel_size: Ints, strides: Ints, out: Ints
          ) -> Iterator[tuple[Ints, Array]]:
  """Yields ((a, b, c), window) for each kernel tap.

  The window [B, T', H', W', C] is the strided slice of the padded input
  that kernel tap (a, b, c) multiplies.
  """
  for tap in itertools.product(*(range(k) for k in kernel_size)):
    start = (0, *tap, 0)
    limit = (xp.shape[0], *(t + (o - 1) * s + 1
                            for t, o, s in zip(tap, out, strides)), xp.shape[4])
    yield tap, lax.slice(xp, start, limit, (1, *strides, 1))


def _geometry(x_shape: Sequence[int], kernel_size: Ints, strides: Ints,
              padding: Pads) -> Ints:
  """Output spatial sizes (T', H', W'); fails naming an empty output."""
  out = tuple(output_size(n, k, s, p) for n, k, s, p in
              zip(x_shape[1:4], kernel_size, strides, padding))
  if min(out) < 1:
    raise ValueError(f"conv of input {tuple(x_shape)} with kernel "
                     f"{kernel_size}, strides {strides}, padding {padding} "
                     f"has an empty output {out}")
  return out


def _transposed_padding(x_shape: Sequence[int], kernel_size: Ints,
                        strides: Ints, padding: Pads, out: Ints) -> Pads:
  """Padding of the stride-dilated dy whose VALID conv gives dx."""
  return tuple((k - 1 - lo, n - 1 + lo - (o - 1) * s)
               for n, k, s, (lo, _), o in
               zip(x_shape[1:4], kernel_size, strides, padding, out))


# Depthwise: one filter per channel, kernel [kt, kh, kw, 1, C].


def _depthwise_sum(xp: Array, kernel: Array, strides: Ints, out: Ints,
                   dtype: jnp.dtype) -> Array:
  """VALID depthwise conv of padded xp as a sum of shifted slices."""
  acc = _accum_dtype(dtype)
  y = None
  for tap, window in _taps(xp, kernel.shape[:3], strides, out):
    term = window.astype(acc) * kernel[tap][0].astype(acc)
    y = term if y is None else y + term
  return y.astype(dtype)


def _block_shape(batch: int, out: Sequence[int], rows: int = 2048
                 ) -> tuple[int, int]:
  """(frames, rows of H') per block: about `rows` output positions, all
  clips: whole frames (several if small) when batch * H' * W' <= rows, else
  a divisor of H' (divisors keep every block the same shape)."""
  num_frames, height, width = out
  frame = batch * height * width
  if frame <= rows:
    return max(d for d in range(1, num_frames + 1)
               if num_frames % d == 0 and d * frame <= rows), height
  return 1, max(d for d in range(1, height + 1)
                if height % d == 0 and (d == 1 or batch * d * width <= rows))


def _sum_over_blocks(xp: Array, dy: Array, kernel_size: Ints, strides: Ints,
                     block_sum: Callable[[Array, Array], Array]) -> Array:
  """Sums block_sum(x_window, dy_block) over blocks of output positions.

  A `lax.scan` over blocks of (frames, H' rows) keeps each step's data in
  cache (whole-array reductions run ~3x slower). Every block spans the
  whole batch, so a batch sharded over devices stays sharded (slicing the
  batch would all-gather it). xp: padded input [B, Tp, Hp, Wp, C_in];
  dy [B, T', H', W', C_out]; block_sum gets x [B, Tw, Hw, Wp, C_in] and
  dy [B, t, h, W', C_out].
  """
  batch, num_frames, height, width, c_out = dy.shape
  frames, rows = _block_shape(batch, (num_frames, height, width))
  (kt, kh, _), (st, sh, _) = kernel_size, strides
  window = (batch, (frames - 1) * st + kt, (rows - 1) * sh + kh,
            *xp.shape[3:])
  row_blocks = height // rows

  def step(total: Array, i: Array) -> tuple[Array, None]:
    t, h = i // row_blocks * frames, i % row_blocks * rows
    xw = lax.dynamic_slice(xp, (0, t * st, h * sh, 0, 0), window)
    dw = lax.dynamic_slice(dy, (0, t, h, 0, 0),
                           (batch, frames, rows, width, c_out))
    return total + block_sum(xw, dw), None

  result = jax.eval_shape(
      block_sum, jax.ShapeDtypeStruct(window, xp.dtype),
      jax.ShapeDtypeStruct((batch, frames, rows, width, c_out), dy.dtype))
  total, _ = lax.scan(step, jnp.zeros(result.shape, result.dtype),
                      jnp.arange(num_frames // frames * row_blocks))
  return total


def _unrolled_width_sums(width: int, channels: int) -> bool:
  """Whether `_tap_sums` writes each tap's sum over W' (= width) out as adds.

  They run as one fused vectorised loop: ~2x faster than the variadic
  reduce for 16 <= W' <= 32, and for 4 <= W' < 16 with >= 128 channels
  (ir-CSN's 14^2 and 7^2 stages: 2.9x and 4.9x at b1); narrower channels
  there are faster reduced (the tiny CSN's 32 channels at 8^2, b16: 0.76x
  unrolled), and wider frames compile for many seconds.
  """
  return 16 <= width <= 32 or (4 <= width < 16 and channels >= 128)


def _tap_sums(xw: Array, dw: Array, kernel_size: Ints, strides: Ints
              ) -> Array:
  """[B, taps, C]: per clip and tap, sum over T', H', W' of window_tap * dw.

  xw [B, Tw, Hw, Wp, C]: the padded input of the outputs dw [B, T', H', W',
  C]. Where `_unrolled_width_sums` says so each tap's sum over W' is
  written out as adds; else one variadic reduce over all taps.
  """
  out = dw.shape[1:4]
  windows = [w for _, w in _taps(xw, kernel_size, strides, out)]
  if not _unrolled_width_sums(out[2], dw.shape[-1]):
    zeros = [jnp.zeros((), dw.dtype)] * len(windows)
    sums = lax.reduce([w * dw for w in windows], zeros,
                      lambda a, b: [u + v for u, v in zip(a, b)], (1, 2, 3))
    return jnp.stack(sums, axis=1)
  columns = []
  for window in windows:
    total = window[:, :, :, 0] * dw[:, :, :, 0]
    for w in range(1, out[2]):
      total = total + window[:, :, :, w] * dw[:, :, :, w]
    columns.append(total)
  return jnp.stack(columns, axis=1).sum((2, 3))


def _depthwise_kernel_grad(xp: Array, dy: Array, kernel_size: Ints,
                           strides: Ints) -> Array:
  """dL/dkernel [kt, kh, kw, 1, C] from padded x and dy [B, T', H', W', C].

  Per tap, sum(window * dy) over B, T', H', W', block by block; the sum
  over clips comes last (one all-reduce when the batch is sharded).
  """
  acc = _accum_dtype(dy.dtype)
  per_clip = _sum_over_blocks(
      xp, dy, kernel_size, strides,
      lambda xw, dw: _tap_sums(xw.astype(acc), dw.astype(acc), kernel_size,
                               strides))
  return per_clip.sum(0).reshape(*kernel_size, 1, dy.shape[-1])


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def depthwise_conv3d(x: Array, kernel: Array, strides: Ints,
                     padding: Pads) -> Array:
  """Depthwise conv, x [B,T,H,W,C], kernel [kt,kh,kw,1,C] -> [B,T',H',W',C].

  `strides` and `padding` must be tuples (they are static).
  """
  return _depthwise_forward(x, kernel, strides, padding)[0]


def _depthwise_forward(x: Array, kernel: Array, strides: Ints, padding: Pads
                       ) -> tuple[Array, tuple[Array, Array]]:
  dtype = jnp.result_type(x, kernel)
  out = _geometry(x.shape, kernel.shape[:3], strides, padding)
  y = _depthwise_sum(_pad_spatial(x, padding), kernel, strides, out, dtype)
  return y, (x, kernel)


def _depthwise_backward(strides: Ints, padding: Pads,
                        residuals: tuple[Array, Array], dy: Array
                        ) -> tuple[Array, Array]:
  x, kernel = residuals
  kernel_size = kernel.shape[:3]
  out = dy.shape[1:4]
  # dx: the stride-dilated dy convolved with the flipped kernel.
  dy_dilated = _pad_spatial(
      dy, _transposed_padding(x.shape, kernel_size, strides, padding, out),
      tuple(s - 1 for s in strides))
  dx = _depthwise_sum(dy_dilated, kernel[::-1, ::-1, ::-1], (1, 1, 1),
                      x.shape[1:4], x.dtype)
  dk = _depthwise_kernel_grad(_pad_spatial(x, padding), dy, kernel_size,
                              strides)
  return dx, dk.astype(kernel.dtype)


depthwise_conv3d.defvjp(_depthwise_forward, _depthwise_backward)


# Frames of at least this many output positions (H' x W') run the forward
# of a kt x 1 x 1 conv (kt > 1) as one 2D conv over (T, H' * W') instead of
# a dot per tap: r2plus1d_18's 144 -> 64 at 16x56^2 2.4x, at 28^2 1.2x; at
# 14^2 and 7^2 the dots are as fast. Its gradients stay the dots' (the 2D
# conv's were faster alone, 1.8x, but slower in a model: s3d's train step
# 0.82x; docs/conv_speed.md). Not for bf16, whose dots (YNNPACK, bf16) are
# as fast at 56^2 and faster below, while the 2D conv computes in f32.
_TEMPORAL_2D_MIN_AREA = 28 * 28


def temporal_conv3d(x: Array, kernel: Array, strides: Ints,
                    padding: Pads) -> Array:
  """Conv with a [kt, 1, 1] kernel (1x1x1 included, groups = 1).

  As dots: per temporal tap one [N, C_in] x [C_in, C_out] dot on the
  strided frames; its autodiff is plain 2D dots too (as 1x1 2D convs,
  XLA:CPU's filter gradient runs ~10x slower). For kt > 1 on large
  frames (`_TEMPORAL_2D_MIN_AREA`), f32, the forward is one 2D conv whose
  image is [T, H' * W'] (`_temporal_as_2d`), the gradients still the
  dots'.
  """
  out = _geometry(x.shape, kernel.shape[:3], strides, padding)
  dtype = jnp.result_type(x, kernel)
  if (kernel.shape[0] > 1 and out[1] * out[2] >= _TEMPORAL_2D_MIN_AREA
      and _accum_dtype(dtype) == dtype):
    return _temporal_2d_forward(x, kernel, strides, padding)
  return _temporal_dots(x, kernel, strides, padding)


def _temporal_dots(x: Array, kernel: Array, strides: Ints, padding: Pads
                   ) -> Array:
  """`temporal_conv3d` as one dot per temporal tap."""
  dtype = jnp.result_type(x, kernel)
  acc = _accum_dtype(dtype)
  out = _geometry(x.shape, kernel.shape[:3], strides, padding)
  xp = _pad_spatial(x, padding)
  y = None
  for tap, window in _taps(xp, kernel.shape[:3], strides, out):
    term = jnp.dot(window.reshape(-1, x.shape[-1]), kernel[tap].astype(dtype),
                   preferred_element_type=acc)
    y = term if y is None else y + term
  return y.reshape(x.shape[0], *out, kernel.shape[-1]).astype(dtype)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _temporal_2d_forward(x: Array, kernel: Array, strides: Ints,
                         padding: Pads) -> Array:
  """`_temporal_as_2d`'s values with `_temporal_dots`' gradients."""
  return _temporal_as_2d(x, kernel, strides, padding)


def _temporal_2d_fwd(x: Array, kernel: Array, strides: Ints, padding: Pads
                     ) -> tuple[Array, tuple[Array, Array]]:
  return _temporal_as_2d(x, kernel, strides, padding), (x, kernel)


def _temporal_2d_bwd(strides: Ints, padding: Pads,
                     residuals: tuple[Array, Array], dy: Array
                     ) -> tuple[Array, Array]:
  x, kernel = residuals
  _, dots_vjp = jax.vjp(
      lambda x, k: _temporal_dots(x, k, strides, padding), x, kernel)
  return dots_vjp(dy)


_temporal_2d_forward.defvjp(_temporal_2d_fwd, _temporal_2d_bwd)


def _temporal_as_2d(x: Array, kernel: Array, strides: Ints, padding: Pads
                    ) -> Array:
  """`temporal_conv3d` as one 2D conv: the strided frames [B, T, H', W', C]
  seen as images [B, T, H' * W', C], kernel [kt, 1, C_in, C_out]; T's
  padding inside the conv (crops before it), (0, 1) and a crop for none
  (XLA:CPU's 2D conv is slower without padding, as in dense_conv_forms)."""
  dtype = jnp.result_type(x, kernel)
  acc = _accum_dtype(dtype)
  out = _geometry(x.shape, kernel.shape[:3], strides, padding)
  (lo, hi), (st, sh, sw) = padding[0], strides
  xp = _pad_spatial(x, ((min(lo, 0), min(hi, 0)), *padding[1:]))
  frames = xp[:, :, :(out[1] - 1) * sh + 1:sh, :(out[2] - 1) * sw + 1:sw]
  t_pad = (max(lo, 0), max(hi, 0))
  no_pad = t_pad == (0, 0) and st == 1
  if no_pad:
    t_pad = (0, 1)
  images = frames.reshape(x.shape[0], xp.shape[1], out[1] * out[2],
                          x.shape[-1])
  y = lax.conv_general_dilated(images.astype(acc), kernel[:, 0].astype(acc),
                               (st, 1), [t_pad, (0, 0)],
                               dimension_numbers=("NHWC", "HWIO", "NHWC"))
  if no_pad:
    y = y[:, :out[0]]
  return y.reshape(x.shape[0], *out, kernel.shape[-1]).astype(dtype)
