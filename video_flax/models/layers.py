"""Layer functions and modules shared by every model.

All tensors are channels-last: activations [B, T, H, W, C], 3D kernels
[kt, kh, kw, C_in / groups, C_out] (the flax `nn.Conv` layout, so weights
map one-to-one to and from other frameworks).

Padding is symmetric, `(k - 1) // 2` on each side of every axis unless given
explicitly (PyTorch / VMZ convention, not TF's asymmetric "SAME" at stride 2),
so that imported weights give identical activations.

The functions here are the single place where a conv *form* is chosen:
`lax.conv_general_dilated` (the reference, used on GPU/TPU) or the fast
XLA:CPU forms of `conv_forms` (see docs/conv_speed.md), same values and
gradients.
"""
from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from video_flax.models import conv_forms
from video_flax.models import dense_conv_forms
from video_flax.models import pool_forms

Array = jax.Array
Padding = Sequence[tuple[int, int]]
Dtype = Any

_DIMENSION_NUMBERS = ("NTHWC", "THWIO", "NTHWC")


def symmetric_padding(kernel_size: Sequence[int]) -> list[tuple[int, int]]:
  """Returns `(k - 1) // 2` on both sides of each axis."""
  return [((k - 1) // 2, (k - 1) // 2) for k in kernel_size]


def _static_geometry(kernel: Array, strides: Sequence[int],
                     padding: Padding | None
                     ) -> tuple[tuple[int, ...], tuple[tuple[int, int], ...]]:
  """Strides and padding as hashable int tuples (symmetric when None)."""
  if padding is None:
    padding = symmetric_padding(kernel.shape[:3])
  strides = tuple(int(s) for s in strides)
  padding = tuple((int(lo), int(hi)) for lo, hi in padding)
  if len(strides) != 3 or len(padding) != 3:
    raise ValueError(f"conv3d needs 3 strides and 3 (before, after) pads, "
                     f"got strides={strides}, padding={padding}")
  return strides, padding


def conv3d(x: Array, kernel: Array, strides: Sequence[int] = (1, 1, 1),
           padding: Padding | None = None, feature_group_count: int = 1) -> Array:
  """Dense or grouped 3D convolution.

  On CPU this runs one of the fast forms of `conv_forms` (depthwise when
  groups == C_in == C_out, dots for kt x 1 x 1, else 2D convs per temporal
  tap);
  elsewhere, or with `VIDEO_FLAX_CONV_FORM=reference`,
  `lax.conv_general_dilated`.

  Args:
    x: [B, T, H, W, C_in].
    kernel: [kt, kh, kw, C_in / groups, C_out].
    strides: (st, sh, sw).
    padding: per-axis (before, after); symmetric `(k-1)//2` when None.
    feature_group_count: number of groups.
  Returns:
    [B, T', H', W', C_out].
  """
  strides, padding = _static_geometry(kernel, strides, padding)
  groups = feature_group_count
  c_in, c_out = x.shape[-1], kernel.shape[-1]
  if x.ndim != 5 or kernel.ndim != 5 or c_in != kernel.shape[3] * groups or (
      c_out % groups):
    raise ValueError(
        f"conv3d: x {x.shape} ([B, T, H, W, C_in]) and kernel {kernel.shape} "
        f"([kt, kh, kw, C_in / groups, C_out]) do not match "
        f"feature_group_count={groups}")
  if not conv_forms.fast_forms_enabled():
    return lax.conv_general_dilated(
        x, kernel, window_strides=strides, padding=padding,
        dimension_numbers=_DIMENSION_NUMBERS, feature_group_count=groups)
  if groups > 1 and groups == c_in == c_out:
    return conv_forms.depthwise_conv3d(x, kernel, strides, padding)
  if groups == 1 and kernel.shape[1:3] == (1, 1):
    return conv_forms.temporal_conv3d(x, kernel, strides, padding)
  return dense_conv_forms.dense_conv3d(x, kernel, strides, padding, groups)


def depthwise_conv3d(x: Array, kernel: Array, strides: Sequence[int] = (1, 1, 1),
                     padding: Padding | None = None) -> Array:
  """Depthwise 3D convolution (one filter per channel).

  Args:
    x: [B, T, H, W, C].
    kernel: [kt, kh, kw, 1, C].
  Returns:
    [B, T', H', W', C].
  """
  if kernel.ndim != 5 or kernel.shape[3:] != (1, x.shape[-1]):
    raise ValueError(f"depthwise_conv3d: kernel {kernel.shape} must be "
                     f"[kt, kh, kw, 1, C] with C = {x.shape[-1]} (x {x.shape})")
  return conv3d(x, kernel, strides, padding, feature_group_count=x.shape[-1])


class Conv3D(nn.Module):
  """3D convolution module; grouped when `feature_group_count > 1`.

  Depthwise convs (groups == in == out channels) go through
  `depthwise_conv3d`, all others through `conv3d`.
  """
  features: int
  kernel_size: Sequence[int] = (3, 3, 3)
  strides: Sequence[int] = (1, 1, 1)
  padding: Padding | None = None
  feature_group_count: int = 1
  use_bias: bool = False
  dtype: Dtype | None = None
  param_dtype: Dtype = jnp.float32
  kernel_init: Any = nn.initializers.variance_scaling(2.0, "fan_out", "normal")
  bias_init: Any = nn.initializers.zeros

  @nn.compact
  def __call__(self, x: Array) -> Array:
    in_features = x.shape[-1]
    groups = self.feature_group_count
    if in_features % groups or self.features % groups:
      raise ValueError(
          f"Conv3D: in ({in_features}) and out ({self.features}) channels must "
          f"be divisible by feature_group_count={groups}")
    kernel_shape = (*self.kernel_size, in_features // groups, self.features)
    kernel = self.param("kernel", self.kernel_init, kernel_shape,
                        self.param_dtype)
    x, kernel = nn.dtypes.promote_dtype(x, kernel, dtype=self.dtype)
    if groups > 1 and groups == in_features == self.features:
      y = depthwise_conv3d(x, kernel, self.strides, self.padding)
    else:
      y = conv3d(x, kernel, self.strides, self.padding, groups)
    if self.use_bias:
      bias = self.param("bias", self.bias_init, (self.features,),
                        self.param_dtype)
      y = y + bias.astype(y.dtype)
    return y


def batch_norm(train: bool, *, epsilon: float = 1e-3, momentum: float = 0.9,
               use_scale: bool = True, dtype: Dtype | None = None,
               name: str | None = None, scale_init: Any = nn.initializers.ones
               ) -> nn.BatchNorm:
  """BatchNorm over all but the channel axis.

  Under `jax.jit` with a batch sharded over a mesh, the mean and variance
  are computed over the *global* batch (XLA inserts the all-reduce), so BN
  statistics are averaged across devices with no `axis_name`.
  """
  return nn.BatchNorm(use_running_average=not train, momentum=momentum,
                      epsilon=epsilon, use_scale=use_scale, dtype=dtype,
                      scale_init=scale_init, name=name)


def max_pool3d(x: Array, window: Sequence[int], strides: Sequence[int],
               padding: Padding | None = None) -> Array:
  """Max pooling over (T, H, W) of [B, T, H, W, C]; symmetric padding
  when None. On CPU the fast form of `pool_forms` (same values, gradients
  to the first max of each window), elsewhere `nn.max_pool`."""
  if padding is None:
    padding = symmetric_padding(window)
  window = tuple(int(k) for k in window)
  strides = tuple(int(s) for s in strides)
  padding = tuple((int(lo), int(hi)) for lo, hi in padding)
  if conv_forms.fast_forms_enabled():
    return pool_forms.max_pool3d(x, window, strides, padding)
  return nn.max_pool(x, window, strides, padding)


# Logical names of a clip activation's axes; video_flax/sharding.py maps
# them onto a device mesh.
CLIP_AXES = ("batch", "time", "height", "width", "channels")


def constrain_clip(x: Array) -> Array:
  """x [B, T, H, W, C], laid out by the active logical axis rules
  (`sharding.activation_rules`); unchanged when none are active."""
  return nn.with_logical_constraint(x, CLIP_AXES)


def global_avg_pool(x: Array) -> Array:
  """[B, T, H, W, C] -> [B, C]."""
  return jnp.mean(x, axis=(1, 2, 3))


__all__ = ["conv3d", "depthwise_conv3d", "Conv3D", "batch_norm", "max_pool3d",
           "global_avg_pool", "symmetric_padding", "CLIP_AXES",
           "constrain_clip"]
