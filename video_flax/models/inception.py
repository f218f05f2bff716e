"""Inception-V1 with batch norm: the 2D image network and I3D, its inflation.

One backbone serves both. With `temporal=False` every conv is a 2D conv
applied to each frame (kernels [kh, kw, C_in, C_out], an image model's
layout) and every pool has temporal size 1: the 2D Inception-V1 of the
Quo Vadis paper. With `temporal=True` it is I3D as released in
deepmind/kinetics-i3d: the same layers with N x N kernels made N x N x N
(7 for the stem, 3 elsewhere) and the pools of Table/Figure 3.

Both mirror the release exactly: TF "SAME" padding (asymmetric at stride 2,
see `same_padding`), convs without bias, batch norm with offset but no scale
(Sonnet's default; `bn_scale=True` adds one) and epsilon 1e-3, Branch 2 of
every block a 3x3 conv (as in TF-slim's Inception-V1, not GoogLeNet's 5x5),
and logits a 1x1x1 conv with bias on the [2, 7, 7]-average-pooled features,
averaged over the remaining time steps (64 frames at 224 give 7).
With 400 classes RGB I3D has 12,689,984 parameters and flow I3D (2 input
channels) 12,668,032.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, ClassVar, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from video_flax.models import layers

Array = jax.Array
Dtype = Any
UnitFactory = Callable[..., nn.Module]

# Stages 3, 4 and 5 of (name, (branch 0 1x1, branch 1 1x1 -> 3x3, branch 2
# 1x1 -> 3x3, branch 3 pool -> 1x1)): the widths of GoogLeNet's Table 1.
INCEPTION_V1_STAGES = (
    (("Mixed_3b", (64, 96, 128, 16, 32, 32)),
     ("Mixed_3c", (128, 128, 192, 32, 96, 64))),
    (("Mixed_4b", (192, 96, 208, 16, 48, 64)),
     ("Mixed_4c", (160, 112, 224, 24, 64, 64)),
     ("Mixed_4d", (128, 128, 256, 24, 64, 64)),
     ("Mixed_4e", (112, 144, 288, 32, 64, 64)),
     ("Mixed_4f", (256, 160, 320, 32, 128, 128))),
    (("Mixed_5b", (256, 160, 320, 32, 128, 128)),
     ("Mixed_5c", (384, 192, 384, 48, 128, 128))),
)


def same_padding(in_sizes: Sequence[int], kernel_size: Sequence[int],
                 strides: Sequence[int]) -> list[tuple[int, int]]:
  """TF / Sonnet "SAME" padding, per axis.

  The output has ceil(n / s) positions; the total padding is
  max(k - s, 0) when n % s == 0 else max(k - n % s, 0), with the smaller half
  before. At stride 2 this is asymmetric (e.g. (2, 3) for a 7-tap stride-2
  conv on an even size), so weights trained in TF with "SAME" give identical
  activations only with this padding, not with the symmetric (k - 1) // 2.
  """
  pads = []
  for n, k, s in zip(in_sizes, kernel_size, strides):
    total = max(k - s, 0) if n % s == 0 else max(k - n % s, 0)
    pads.append((total // 2, total - total // 2))
  return pads


def padding_for(mode: str, in_sizes: Sequence[int], kernel_size: Sequence[int],
                strides: Sequence[int]) -> list[tuple[int, int]]:
  """'same' (TF, I3D release) or 'symmetric' ((k - 1) // 2, PyTorch)."""
  if mode == "same":
    return same_padding(in_sizes, kernel_size, strides)
  if mode == "symmetric":
    return layers.symmetric_padding(kernel_size)
  raise ValueError(f"Unknown padding mode {mode!r}; use 'same' or 'symmetric'")


def max_pool(x: Array, window: Sequence[int], strides: Sequence[int],
             mode: str) -> Array:
  """Max pool of [B, T, H, W, C]; padded positions never win (-inf)."""
  return layers.max_pool3d(x, window, strides,
                           padding_for(mode, x.shape[1:4], window, strides))


class FrameConv(nn.Module):
  """A 2D convolution applied to every frame of [B, T, H, W, C].

  The kernel is stored as [kh, kw, C_in, C_out], the layout of an image
  model, so a 2D checkpoint loads as is and `inflation` turns it into I3D.
  """
  features: int
  kernel_size: Sequence[int]
  strides: Sequence[int] = (1, 1)
  padding: layers.Padding | None = None  # 3 axes (T, H, W)
  use_bias: bool = False
  dtype: Dtype | None = None
  kernel_init: Any = nn.initializers.variance_scaling(2.0, "fan_out", "normal")

  @nn.compact
  def __call__(self, x: Array) -> Array:
    kernel = self.param("kernel", self.kernel_init,
                        (*self.kernel_size, x.shape[-1], self.features))
    x, kernel = nn.dtypes.promote_dtype(x, kernel, dtype=self.dtype)
    y = layers.conv3d(x, kernel[None], (1, *self.strides), self.padding)
    if self.use_bias:
      bias = self.param("bias", nn.initializers.zeros, (self.features,))
      y = y + bias.astype(y.dtype)
    return y


class ConvBNReLU(nn.Module):
  """Conv (no bias) -> batch norm -> ReLU: Unit3D of the I3D release.

  A 2-entry `kernel_size` makes a per-frame 2D conv (`FrameConv`), a 3-entry
  one a 3D conv; the submodules are named `conv` and `bn` either way, so the
  2D and 3D parameter trees have the same paths.
  """
  features: int
  kernel_size: Sequence[int]
  strides: Sequence[int] | None = None
  padding_mode: str = "same"
  bn_scale: bool = False
  bn_epsilon: float = 1e-3
  dtype: Dtype | None = None

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    kernel = tuple(self.kernel_size)
    strides = tuple(self.strides or (1,) * len(kernel))
    if len(kernel) == 2:
      padding = padding_for(self.padding_mode, x.shape[1:4], (1, *kernel),
                            (1, *strides))
      y = FrameConv(self.features, kernel, strides, padding, dtype=self.dtype,
                    name="conv")(x)
    else:
      padding = padding_for(self.padding_mode, x.shape[1:4], kernel, strides)
      y = layers.Conv3D(self.features, kernel, strides, padding,
                        dtype=self.dtype, name="conv")(x)
    y = layers.batch_norm(train, epsilon=self.bn_epsilon,
                          use_scale=self.bn_scale, dtype=self.dtype,
                          name="bn")(y)
    return nn.relu(y)


class InceptionBlock(nn.Module):
  """Four parallel branches concatenated on channels.

  widths: (b0 1x1, b1 1x1, b1 3x3, b2 1x1, b2 3x3, b3 1x1 after a 3x3 max
  pool of stride 1). `gate` (S3D-G) is applied to every branch output.
  """
  widths: Sequence[int]
  unit: UnitFactory
  temporal: bool
  padding_mode: str
  gate: UnitFactory | None = None

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    k1 = (1, 1, 1) if self.temporal else (1, 1)
    k3 = (3, 3, 3) if self.temporal else (3, 3)
    unit = functools.partial(self.unit, padding_mode=self.padding_mode)
    w0, w1a, w1b, w2a, w2b, w3 = self.widths
    b0 = unit(w0, k1, name="b0_1x1")(x, train)
    b1 = unit(w1a, k1, name="b1_1x1")(x, train)
    b1 = unit(w1b, k3, name="b1_3x3")(b1, train)
    b2 = unit(w2a, k1, name="b2_1x1")(x, train)
    b2 = unit(w2b, k3, name="b2_3x3")(b2, train)
    b3 = max_pool(x, (3, 3, 3) if self.temporal else (1, 3, 3), (1, 1, 1),
                  self.padding_mode)
    b3 = unit(w3, k1, name="b3_1x1")(b3, train)
    if self.gate is not None:
      b0, b1, b2, b3 = (self.gate(name=f"b{i}_gate")(b)
                        for i, b in enumerate((b0, b1, b2, b3)))
    return jnp.concatenate([b0, b1, b2, b3], axis=-1)


class BackboneSize(nn.Module, kw_only=True):
  """Size options of the Inception-V1 backbone, shared (keyword-only) by it
  and every model built on it (I3D, S3D, ConvNet+LSTM, the two-streams).

  Attributes:
    width, min_width: every channel count c becomes max(int(c * width),
      min_width), as TF-slim's depth_multiplier (1.0 = the paper's widths).
    blocks_per_stage: how many of the Inception blocks of stages 3, 4 and 5
      to keep (from the first); (2, 5, 2) is the paper's network. Fewer
      blocks make tiny variants that compile fast on CPU.
    stem_pools: False drops the two 1x3x3 stride-(1, 2, 2) max pools of the
      stem (MaxPool_2a, MaxPool_3a; no parameters), keeping 4x the spatial
      resolution: on 32-64 px clips the released layout leaves too little
      of it for small motions.
    remat: recompute each Inception block's activations in the backward
      pass instead of keeping them (same values, less memory).
  """
  width: float = 1.0
  min_width: int = 8
  blocks_per_stage: Sequence[int] = (2, 5, 2)
  stem_pools: bool = True
  remat: bool = False


_BACKBONE_SIZE_FIELDS = tuple(
    f.name for f in dataclasses.fields(BackboneSize)
    if f.name not in ("parent", "name"))


class InceptionV1Backbone(BackboneSize):
  """Inception-V1 up to Mixed_5c, before the final average pool.

  [B, T, H, W, C] -> [B, T', ceil(H / 32), ceil(W / 32), 1024 * width];
  T' = T when `temporal=False` (per frame), else ceil(T / 8).

  Attributes:
    temporal: False: 2D per-frame network; True: I3D (or S3D with a
      separable `unit`).
    stem_time: temporal size of the first conv's kernel (7 in I3D).
    width, min_width, blocks_per_stage, stem_pools: see `BackboneSize`.
    unit: conv -> BN -> ReLU factory, called as unit(features, kernel_size,
      strides, padding_mode=..., name=...)(x, train).
    padding_mode: 'same' (TF, I3D release) or 'symmetric' (torchvision S3D),
      for convs and pools alike.
    gate: S3D-G feature gating factory (gate(name=...)(x)), applied after
      Conv_2c and every branch of every block; None for no gating.
  """
  temporal: bool = True
  stem_time: int = 7
  unit: UnitFactory = ConvBNReLU
  padding_mode: str = "same"
  gate: UnitFactory | None = None

  def _width(self, c: int) -> int:
    return max(int(c * self.width), self.min_width)

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    sizes = tuple(len(stage) for stage in INCEPTION_V1_STAGES)
    if (len(self.blocks_per_stage) != 3
        or not all(1 <= n <= m for n, m in zip(self.blocks_per_stage, sizes))):
      raise ValueError(f"blocks_per_stage={tuple(self.blocks_per_stage)}: "
                       f"need 3 counts, each from 1 to {sizes}")
    t = self.temporal
    unit = functools.partial(self.unit, padding_mode=self.padding_mode)
    pool = functools.partial(max_pool, mode=self.padding_mode)
    stem_pool = pool if self.stem_pools else lambda x, *_: x
    x = unit(self._width(64), (self.stem_time, 7, 7) if t else (7, 7),
             (2, 2, 2) if t else (2, 2), name="Conv_1a_7x7")(x, train)
    x = stem_pool(x, (1, 3, 3), (1, 2, 2))
    x = unit(self._width(64), (1, 1, 1) if t else (1, 1),
             name="Conv_2b_1x1")(x, train)
    x = unit(self._width(192), (3, 3, 3) if t else (3, 3),
             name="Conv_2c_3x3")(x, train)
    if self.gate is not None:
      x = self.gate(name="Conv_2c_gate")(x)
    x = layers.constrain_clip(stem_pool(x, (1, 3, 3), (1, 2, 2)))
    # Argument 2 (`train`, after self and x) is static.
    block = (nn.remat(InceptionBlock, static_argnums=(2,)) if self.remat
             else InceptionBlock)
    stage_pools = (None, ((3, 3, 3), (2, 2, 2)), ((2, 2, 2), (2, 2, 2)))
    for stage, pool_3d, count in zip(INCEPTION_V1_STAGES, stage_pools,
                                     self.blocks_per_stage):
      if pool_3d is not None:
        window, strides = pool_3d
        x = pool(x, window if t else (1, *window[1:]),
                 strides if t else (1, *strides[1:]))
      for name, widths in stage[:count]:
        x = layers.constrain_clip(block(
            tuple(self._width(c) for c in widths), self.unit, t,
            self.padding_mode, self.gate, name=name)(x, train))
    return x


def backbone_options(model: BackboneSize) -> dict[str, Any]:
  """The `BackboneSize` fields of `model`, as kwargs for the backbone."""
  options = {name: getattr(model, name) for name in _BACKBONE_SIZE_FIELDS}
  options["blocks_per_stage"] = tuple(options["blocks_per_stage"])
  return options


class PooledConvHead(nn.Module):
  """Average pool -> dropout -> 1x1(x1) conv with bias -> mean over time.

  The pool window is [min(2, T'), H', W'] with stride 1 and no padding for a
  3D network (the release's [2, 7, 7] at 224) and [1, H', W'] for a 2D one,
  whose per-frame logits are then averaged over frames. The pooled features
  [B, T'', C] are sown as intermediates/head/features.
  Returns [B, num_classes].
  """
  num_classes: int
  dropout_rate: float
  temporal: bool
  dtype: Dtype | None = None

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    window = (min(2, x.shape[1]) if self.temporal else 1, *x.shape[2:4])
    x = nn.avg_pool(x, window, strides=(1, 1, 1), padding="VALID")
    self.sow("intermediates", "features", x[:, :, 0, 0])
    x = nn.Dropout(self.dropout_rate)(x, deterministic=not train)
    if self.temporal:
      x = layers.Conv3D(self.num_classes, (1, 1, 1), use_bias=True,
                        dtype=self.dtype, name="conv")(x)
    else:
      x = FrameConv(self.num_classes, (1, 1), use_bias=True, dtype=self.dtype,
                    name="conv")(x)
    return jnp.mean(x, axis=(1, 2, 3))


class InceptionV1(BackboneSize):
  """Inception-V1 classifier: 2D per frame (`temporal=False`) or I3D.

  Called on video [B, T, H, W, C] (C = 3 for RGB, 2 for flow) and returns
  logits [B, num_classes]. The 2D network classifies every frame and
  averages the logits over frames (a single-frame model when T = 1).
  """
  num_classes: int
  temporal: bool = True
  dropout_rate: float = 0.5
  bn_scale: bool = False
  dtype: Dtype | None = None

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    unit = functools.partial(ConvBNReLU, bn_scale=self.bn_scale,
                             dtype=self.dtype)
    x = InceptionV1Backbone(self.temporal, unit=unit, name="backbone",
                            **backbone_options(self))(x, train)
    return PooledConvHead(self.num_classes, self.dropout_rate, self.temporal,
                          self.dtype, name="head")(x, train)


class FlowInceptionV1(InceptionV1):
  """`InceptionV1` reading the batch's optical flow ([B, T, H, W, 2])."""
  input_keys: ClassVar[tuple[str, ...]] = ("flow",)


# For CPU tests and training on 8-16 frame, 32-64 px clips: 1/8 of the
# widths, and one Inception block per stage (compile time on CPU grows with
# the number of layers, not their width).
TINY = {"width": 0.125, "min_width": 8, "blocks_per_stage": (1, 1, 1)}

MODELS = {
    "inception_v1_2d": functools.partial(InceptionV1, temporal=False),
    "i3d_rgb": functools.partial(InceptionV1, temporal=True),
    "i3d_flow": functools.partial(FlowInceptionV1, temporal=True),
    "inception_v1_2d_tiny": functools.partial(InceptionV1, temporal=False,
                                              **TINY),
    "i3d_rgb_tiny": functools.partial(InceptionV1, temporal=True, **TINY),
    "i3d_flow_tiny": functools.partial(FlowInceptionV1, temporal=True, **TINY),
}

# Clips of the papers (../shared/docs/reference-numbers.md from the repo
# root); `*_tiny` models run at 8x32x32.
REFERENCE_SHAPES = {"inception_v1_2d": (16, 224, 224),
                    "i3d_rgb": (64, 224, 224), "i3d_flow": (64, 224, 224)}
