"""Residual blocks of the 3D ResNet family (CSN paper and its relatives).

A block's spatio-temporal conv (the 3x3x3 of R3D) is one `SpatioTemporalConv`
whose `kind` selects the factorisation compared in the papers:

  3d       t x d x d conv                          (R3D)
  2d       1 x d x d conv, no temporal stride      (R2D, 2D stages of MCx/rMCx)
  2plus1d  1 x d x d -> BN, ReLU -> t x 1 x 1, M mid channels   (R(2+1)D)
  sep      as 2plus1d with M = output channels     (S3D separable conv)
  ip       1 x 1 x 1 -> BN -> t x d x d depthwise  (ip-CSN)
  ir       t x d x d depthwise                     (ir-CSN)
  group    t x d x d conv with `groups` groups     (ResNeXt-3D, group ablation)
  p3d_a/b/c  P3D's cascaded / parallel / cascaded+skip S and T convs
             (bottleneck blocks only)

Every block is post-activation (conv -> BN -> ReLU; residual added before the
last ReLU) with a projection shortcut (1x1x1 conv + BN) whenever the shape
changes. Activations are [B, T, H, W, C].
"""
from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from video_flax.models.layers import Conv3D, batch_norm

Array = jax.Array

CONV_KINDS = ("3d", "2d", "2plus1d", "sep", "ip", "ir", "group",
              "p3d_a", "p3d_b", "p3d_c")
P3D_KINDS = ("p3d_a", "p3d_b", "p3d_c")
MID_RULES = ("paper", "torchvision")


def r2plus1d_mid_features(in_features: int, out_features: int,
                          kernel_size: Sequence[int] = (3, 3, 3)) -> int:
  """R(2+1)D mid channels M = floor(t d^2 N_in N_out / (d^2 N_in + t N_out)).

  Chosen so the (2+1)D pair has the parameters of the t x d x d conv it
  replaces (Tran et al., CVPR 2018).
  """
  t, d = kernel_size[0], kernel_size[1]
  return (t * d * d * in_features * out_features) // (
      d * d * in_features + t * out_features)


def _relu(x: Array) -> Array:
  return nn.relu(x)


class SpatioTemporalConv(nn.Module):
  """The spatio-temporal conv of a block, followed by its BN (no final ReLU).

  P3D-B and P3D-C end with their branches' ReLUs (as in P3D), so the ReLU
  the block applies after them changes nothing.
  """
  features: int
  kind: str = "3d"
  strides: Sequence[int] = (1, 1, 1)
  kernel_size: Sequence[int] = (3, 3, 3)
  mid_features: int | None = None  # 2plus1d only
  groups: int = 1  # group only
  bn_epsilon: float = 1e-3
  final_scale_init: Any = nn.initializers.ones
  dtype: Any = None

  def _conv(self, features: int, kernel: Sequence[int], strides: Sequence[int],
            name: str, groups: int = 1) -> Conv3D:
    return Conv3D(features, tuple(kernel), tuple(strides),
                  feature_group_count=groups, dtype=self.dtype, name=name)

  def _bn(self, train: bool, name: str, final: bool = False) -> nn.BatchNorm:
    scale_init = self.final_scale_init if final else nn.initializers.ones
    return batch_norm(train, epsilon=self.bn_epsilon, dtype=self.dtype,
                      scale_init=scale_init, name=name)

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    kt, kh, kw = self.kernel_size
    st, sh, sw = self.strides
    spatial, temporal = (1, kh, kw), (kt, 1, 1)
    kind = self.kind
    if kind == "3d":
      return self._bn(train, "bn", True)(
          self._conv(self.features, self.kernel_size, self.strides, "conv")(x))
    if kind == "group":
      y = self._conv(self.features, self.kernel_size, self.strides, "conv",
                     self.groups)(x)
      return self._bn(train, "bn", True)(y)
    if kind == "2d":
      y = self._conv(self.features, spatial, (1, sh, sw), "conv")(x)
      return self._bn(train, "bn", True)(y)
    if kind in ("2plus1d", "sep"):
      mid = self.features if kind == "sep" else self.mid_features
      if mid is None:
        raise ValueError(
            "SpatioTemporalConv(kind='2plus1d') needs mid_features")
      y = self._conv(mid, spatial, (1, sh, sw), "conv_s")(x)
      y = _relu(self._bn(train, "bn_s")(y))
      y = self._conv(self.features, temporal, (st, 1, 1), "conv_t")(y)
      return self._bn(train, "bn", True)(y)
    if kind in ("ip", "ir"):
      if kind == "ip":
        x = self._conv(self.features, (1, 1, 1), (1, 1, 1), "conv_pw")(x)
        x = self._bn(train, "bn_pw")(x)
      elif x.shape[-1] != self.features:
        raise ValueError(
            f"ir (depthwise-only) conv cannot change channels: input has "
            f"{x.shape[-1]}, features={self.features}")
      y = self._conv(self.features, self.kernel_size, self.strides, "conv_dw",
                     groups=self.features)(x)
      return self._bn(train, "bn", True)(y)
    if kind in P3D_KINDS:
      return self._p3d(x, train)
    raise ValueError(
        f"Unknown conv kind {kind!r}; known: {', '.join(CONV_KINDS)}")

  def _p3d(self, x: Array, train: bool) -> Array:
    """P3D-A: T(S(x)); P3D-B: S(x) + T(x); P3D-C: S(x) + T(S(x)).

    The block's stride goes on S (and on T in the parallel form B) so both
    branches agree in shape.
    """
    kt, kh, kw = self.kernel_size
    spatial, temporal = (1, kh, kw), (kt, 1, 1)
    s = self._conv(self.features, spatial, self.strides, "conv_s")(x)
    if self.kind == "p3d_a":
      s = _relu(self._bn(train, "bn_s")(s))
      t = self._conv(self.features, temporal, (1, 1, 1), "conv_t")(s)
      return self._bn(train, "bn_t", True)(t)
    s = _relu(self._bn(train, "bn_s", True)(s))
    if self.kind == "p3d_b":
      t = self._conv(self.features, temporal, self.strides, "conv_t")(x)
    else:
      t = self._conv(self.features, temporal, (1, 1, 1), "conv_t")(s)
    t = _relu(self._bn(train, "bn_t", True)(t))
    return s + t


def _shortcut(x: Array, out_features: int, strides: Sequence[int],
              train: bool, bn_epsilon: float, dtype: Any) -> Array:
  """Identity, or a 1x1x1 conv + BN projection when the shape changes."""
  if x.shape[-1] == out_features and tuple(strides) == (1, 1, 1):
    return x
  x = Conv3D(out_features, (1, 1, 1), tuple(strides), dtype=dtype,
             name="proj_conv")(x)
  return batch_norm(train, epsilon=bn_epsilon, dtype=dtype, name="proj_bn")(x)


def effective_strides(kind: str, strides: Sequence[int]
                      ) -> tuple[int, int, int]:
  """A 2D block cannot stride in time: (st, sh, sw) -> (1, sh, sw)."""
  st, sh, sw = strides
  return (1, sh, sw) if kind == "2d" else (st, sh, sw)


class SimpleBlock(nn.Module):
  """Two spatio-temporal convs (ResNet-18/34 "basic" block).

  ip: both convs become 1x1x1 + depthwise. ir: the first conv is 1x1x1 +
  depthwise (it must mix channels and may change their number), the second
  depthwise only.
  """
  features: int
  kind: str = "3d"
  strides: Sequence[int] = (1, 1, 1)
  groups: int = 1
  mid_rule: str = "paper"
  bn_epsilon: float = 1e-3
  zero_init_residual: bool = True
  dtype: Any = None

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    if self.kind in P3D_KINDS:
      raise ValueError(f"{self.kind} is defined for bottleneck blocks only")
    in_features = x.shape[-1]
    strides = effective_strides(self.kind, self.strides)
    kinds = ("ip", "ir") if self.kind == "ir" else (self.kind, self.kind)
    mid_in = (in_features, in_features if self.mid_rule == "torchvision"
              else self.features)
    final_init = (nn.initializers.zeros if self.zero_init_residual
                  else nn.initializers.ones)
    y = x
    for i in range(2):
      y = SpatioTemporalConv(
          self.features, kinds[i], strides if i == 0 else (1, 1, 1),
          mid_features=r2plus1d_mid_features(mid_in[i], self.features),
          groups=self.groups, bn_epsilon=self.bn_epsilon,
          final_scale_init=final_init if i == 1 else nn.initializers.ones,
          dtype=self.dtype, name=f"conv{i + 1}")(y, train)
      if i == 0:
        y = _relu(y)
    shortcut = _shortcut(x, self.features, strides, train, self.bn_epsilon,
                         self.dtype)
    return _relu(y + shortcut)


class BottleneckBlock(nn.Module):
  """1x1x1 -> spatio-temporal conv -> 1x1x1 (to `out_features`)."""
  features: int
  out_features: int
  kind: str = "3d"
  strides: Sequence[int] = (1, 1, 1)
  groups: int = 1
  mid_rule: str = "paper"
  bn_epsilon: float = 1e-3
  zero_init_residual: bool = True
  dtype: Any = None

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    in_features = x.shape[-1]
    strides = effective_strides(self.kind, self.strides)
    y = Conv3D(self.features, (1, 1, 1), dtype=self.dtype, name="conv1")(x)
    y = _relu(batch_norm(train, epsilon=self.bn_epsilon, dtype=self.dtype,
                         name="bn1")(y))
    mid_in = in_features if self.mid_rule == "torchvision" else self.features
    y = SpatioTemporalConv(
        self.features, self.kind, strides,
        mid_features=r2plus1d_mid_features(mid_in, self.features),
        groups=self.groups, bn_epsilon=self.bn_epsilon, dtype=self.dtype,
        name="conv2")(y, train)
    y = _relu(y)
    y = Conv3D(self.out_features, (1, 1, 1), dtype=self.dtype, name="conv3")(y)
    final_init = (nn.initializers.zeros if self.zero_init_residual
                  else nn.initializers.ones)
    y = batch_norm(train, epsilon=self.bn_epsilon, dtype=self.dtype,
                   scale_init=final_init, name="bn3")(y)
    shortcut = _shortcut(x, self.out_features, strides, train, self.bn_epsilon,
                         self.dtype)
    return _relu(y + shortcut)


__all__ = ["CONV_KINDS", "MID_RULES", "SpatioTemporalConv", "SimpleBlock",
           "BottleneckBlock", "r2plus1d_mid_features", "effective_strides"]
