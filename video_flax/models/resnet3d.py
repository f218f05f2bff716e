"""ResNet3D: the 3D ResNet family of the CSN paper (Tran et al., ICCV 2019).

One class, `ResNet3D`, covers R3D, ip-CSN, ir-CSN, group-conv (ResNeXt-3D),
R2D, MCx, rMCx, R(2+1)D, P3D and S3D-style separable variants; the
registry `MODELS` names presets of it (flax imagenet example style).

Two layouts:
  CSN (`*_csn_*`, `r3d_26..152`, ...): stem 3x7x7 conv stride 1x2x2, pool1
    1x3x3 max pool stride 1x2x2, 2x2x2 stride at conv3_1/conv4_1/conv5_1,
    BN epsilon 1e-3; reference input 8x224x224 (ablations) or 32x224x224
    (depth 101/152).
  torchvision / R(2+1)D paper (`r3d_18`, `mc3_18`, `r2plus1d_18`, `mcX_18`,
    `rmcX_18`, `r2d_18`, ...): no pool1, BN epsilon 1e-5, reference input
    16x112x112; `r3d_18`, `mc3_18`, `r2plus1d_18` match torchvision's
    parameter trees one to one.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from video_flax.models.layers import (Conv3D, batch_norm, constrain_clip,
                                      global_avg_pool, max_pool3d)
from video_flax.models.resnet3d_blocks import (CONV_KINDS, MID_RULES,
                                               BottleneckBlock, SimpleBlock)

Array = jax.Array

STEM_KINDS = ("3d", "2d", "2plus1d")
CSN_STAGE_STRIDES = ((1, 1, 1), (2, 2, 2), (2, 2, 2), (2, 2, 2))


class ResNet3D(nn.Module):
  """3D ResNet video classifier.

  Attributes:
    stage_sizes: blocks per stage (conv2_x .. conv5_x).
    block: "simple" (two 3x3x3) or "bottleneck" (1x1x1, 3x3x3, 1x1x1).
    conv_kinds: the spatio-temporal conv of every stage's blocks, one kind
      for all stages or one per stage (see resnet3d_blocks.CONV_KINDS).
    widths: per stage, the simple block's channels / the bottleneck's inner
      channels.
    expansion: bottleneck output channels = widths * expansion.
    groups: groups of the "group" conv kind.
    mid_rule: R(2+1)D mid channels from the conv's own input ("paper") or
      from the block's input ("torchvision").
    stem_kind: "3d", "2d" (1 x kh x kw) or "2plus1d" (factorised, with
      `stem_mid_features` mid channels).
    pool1: 1x3x3 max pool with stride 1x2x2 after the stem (CSN layout).
    stage_strides: stride of each stage's first block.
    fold_time: R2D: fold the T frames into channels, [B,T,H,W,C] ->
      [B,1,H,W,T*C], so every conv is 2D over the whole clip.
    bn_epsilon: 1e-3 (CSN / VMZ release) or 1e-5 (torchvision).
    zero_init_residual: the last BN scale of each residual branch starts at
      0, so every block starts as the identity.
    remat: recompute each residual block's activations in the backward
      pass instead of keeping them (same values, less memory).
  """
  stage_sizes: Sequence[int]
  block: str = "bottleneck"
  conv_kinds: str | Sequence[str] = "3d"
  widths: Sequence[int] = (64, 128, 256, 512)
  expansion: int = 4
  groups: int = 1
  mid_rule: str = "paper"
  stem_kind: str = "3d"
  stem_features: int = 64
  stem_mid_features: int = 45
  stem_kernel: Sequence[int] = (3, 7, 7)
  stem_strides: Sequence[int] = (1, 2, 2)
  pool1: bool = True
  stage_strides: Sequence[Sequence[int]] = CSN_STAGE_STRIDES
  fold_time: bool = False
  num_classes: int = 400
  dropout_rate: float = 0.0
  bn_epsilon: float = 1e-3
  zero_init_residual: bool = True
  remat: bool = False
  dtype: Any = None

  def _stage_kinds(self) -> tuple[str, ...]:
    n = len(self.stage_sizes)
    kinds = ((self.conv_kinds,) * n if isinstance(self.conv_kinds, str)
             else tuple(self.conv_kinds))
    problems = []
    if len(kinds) != n:
      problems.append(f"{len(kinds)} conv_kinds for {n} stages")
    if len(self.widths) != n or len(self.stage_strides) != n:
      problems.append(
          f"widths ({len(self.widths)}) and stage_strides "
          f"({len(self.stage_strides)}) need one entry per stage ({n})")
    problems += [f"unknown conv kind {k!r} (known: {', '.join(CONV_KINDS)})"
                 for k in kinds if k not in CONV_KINDS]
    if self.block not in ("simple", "bottleneck"):
      problems.append(f"block={self.block!r} (known: simple, bottleneck)")
    if self.stem_kind not in STEM_KINDS:
      problems.append(f"stem_kind={self.stem_kind!r} "
                      f"(known: {', '.join(STEM_KINDS)})")
    if self.mid_rule not in MID_RULES:
      problems.append(f"mid_rule={self.mid_rule!r} "
                      f"(known: {', '.join(MID_RULES)})")
    if problems:
      raise ValueError("ResNet3D: " + "; ".join(problems))
    return kinds

  def _stem(self, x: Array, train: bool) -> Array:
    kt, kh, kw = self.stem_kernel
    st, sh, sw = self.stem_strides
    bn = functools.partial(batch_norm, train, epsilon=self.bn_epsilon,
                           dtype=self.dtype)
    if self.stem_kind == "2plus1d":
      x = Conv3D(self.stem_mid_features, (1, kh, kw), (1, sh, sw),
                 dtype=self.dtype, name="conv1_s")(x)
      x = nn.relu(bn(name="bn1_s")(x))
      x = Conv3D(self.stem_features, (kt, 1, 1), (st, 1, 1), dtype=self.dtype,
                 name="conv1_t")(x)
    else:
      kernel = (1, kh, kw) if self.stem_kind == "2d" else (kt, kh, kw)
      strides = (1, sh, sw) if self.stem_kind == "2d" else (st, sh, sw)
      x = Conv3D(self.stem_features, kernel, strides, dtype=self.dtype,
                 name="conv1")(x)
    x = nn.relu(bn(name="bn1")(x))
    if self.pool1:
      x = max_pool3d(x, (1, 3, 3), (1, 2, 2))
    return x

  @nn.compact
  def __call__(self, x: Array, train: bool = False) -> Array:
    """x: [B, T, H, W, C] -> logits [B, num_classes]."""
    kinds = self._stage_kinds()
    if x.ndim != 5:
      raise ValueError(f"ResNet3D expects [B, T, H, W, C], got shape {x.shape}")
    if self.fold_time:
      b, t, h, w, c = x.shape
      x = jnp.transpose(x, (0, 2, 3, 1, 4)).reshape(b, 1, h, w, t * c)
    x = constrain_clip(self._stem(x, train))
    simple, bottleneck = SimpleBlock, BottleneckBlock
    if self.remat:  # argument 2 (`train`, after self and x) is static
      simple, bottleneck = (nn.remat(b, static_argnums=(2,))
                            for b in (simple, bottleneck))
    for i, (size, kind) in enumerate(zip(self.stage_sizes, kinds)):
      for j in range(size):
        strides = tuple(self.stage_strides[i]) if j == 0 else (1, 1, 1)
        common = dict(kind=kind, strides=strides, groups=self.groups,
                      mid_rule=self.mid_rule, bn_epsilon=self.bn_epsilon,
                      zero_init_residual=self.zero_init_residual,
                      dtype=self.dtype, name=f"conv{i + 2}_{j + 1}")
        if self.block == "simple":
          x = simple(self.widths[i], **common)(x, train)
        else:
          x = bottleneck(self.widths[i], self.widths[i] * self.expansion,
                         **common)(x, train)
        x = constrain_clip(x)
    x = global_avg_pool(x)
    self.sow("intermediates", "features", x)  # video_flax/features.py
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    return nn.Dense(self.num_classes, dtype=self.dtype, name="head")(x)


DEPTHS = {18: ("simple", (2, 2, 2, 2)),
          26: ("bottleneck", (2, 2, 2, 2)),
          34: ("simple", (3, 4, 6, 3)),
          50: ("bottleneck", (3, 4, 6, 3)),
          101: ("bottleneck", (3, 4, 23, 3)),
          152: ("bottleneck", (3, 8, 36, 3))}

def _preset(depth: int, **kwargs: Any) -> Callable[..., ResNet3D]:
  block, stage_sizes = DEPTHS[depth]
  kwargs.setdefault("block", block)
  return functools.partial(ResNet3D, stage_sizes=stage_sizes, **kwargs)


def _mixed_kinds(x: int, reverse: bool) -> tuple[str, ...]:
  """MCx: conv_x and above 2D; rMCx: conv_x and above 3D (conv2..conv5)."""
  lower, upper = ("2d", "3d") if reverse else ("3d", "2d")
  return tuple(upper if group >= x else lower for group in range(2, 6))


Preset = tuple[Callable[..., ResNet3D], tuple[int, int, int]]


def _csn_family() -> dict[str, Preset]:
  """CSN layout; reference clips 8x224x224 (the paper's ablations) and
  32x224x224 for depth 101/152 (its final models)."""
  presets: dict[str, Callable[..., ResNet3D]] = {}
  shapes: dict[str, tuple[int, int, int]] = {}

  def add(name: str, depth: int, **kwargs: Any) -> None:
    presets[name] = _preset(depth, **kwargs)
    shapes[name] = (32, 224, 224) if depth >= 101 else (8, 224, 224)

  for depth in DEPTHS:
    add(f"ir_csn_{depth}", depth, conv_kinds="ir")
    add(f"ip_csn_{depth}", depth, conv_kinds="ip")
    add("r3d_18_csn" if depth == 18 else f"r3d_{depth}", depth,
        conv_kinds="3d")
    if depth in (26, 50, 101):
      # The paper's group-conv ablation; override `groups` for other G.
      add(f"gc_r3d_{depth}", depth, conv_kinds="group", groups=8)
  for depth in (50, 101, 152):
    add(f"r2plus1d_{depth}", depth, conv_kinds="2plus1d", stem_kind="2plus1d")
    for form in "abc":
      add(f"p3d_{form}_{depth}", depth, conv_kinds=f"p3d_{form}")
    add(f"s3d_sep_{depth}", depth, conv_kinds="sep")
  for depth in (50, 101):
    # ResNeXt 32x4d: 32 groups of 4 channels in conv2_x, bottleneck x2.
    add(f"resnext3d_{depth}_32x4d", depth, conv_kinds="group", groups=32,
        widths=(128, 256, 512, 1024), expansion=2)
  return {name: (presets[name], shapes[name]) for name in presets}


def _torchvision_family() -> dict[str, Preset]:
  """torchvision / R(2+1)D-paper layout at its 16x112x112 clips."""
  tv = dict(pool1=False, bn_epsilon=1e-5)
  presets = {
      "r3d_18": _preset(18, conv_kinds="3d", **tv),
      "r2plus1d_18": _preset(18, conv_kinds="2plus1d", stem_kind="2plus1d",
                             mid_rule="torchvision", **tv),
      "r2plus1d_18_paper": _preset(18, conv_kinds="2plus1d",
                                   stem_kind="2plus1d", **tv),
      "r2plus1d_34": _preset(34, conv_kinds="2plus1d", stem_kind="2plus1d",
                             **tv),
      "r2d_18": _preset(18, conv_kinds="2d", stem_kind="2d", fold_time=True,
                        **tv),
      "f_r2d_18": _preset(18, conv_kinds="2d", stem_kind="2d", **tv),
  }
  for x in range(2, 6):
    presets[f"mc{x}_18"] = _preset(18, conv_kinds=_mixed_kinds(x, False), **tv)
    # rMCx: conv1 is 2D too, since everything below conv_x is.
    presets[f"rmc{x}_18"] = _preset(18, conv_kinds=_mixed_kinds(x, True),
                                    stem_kind="2d", **tv)
  return {name: (ctor, (16, 112, 112)) for name, ctor in presets.items()}


def _tiny_family() -> dict[str, Preset]:
  """Small CSNs that train on 2 CPU cores in minutes (8x32x32 clips).

  No pool1: at 32x32 the stem already halves the resolution, and the
  motion the synthetic classes are made of needs the spatial detail.
  """
  tiny = dict(stage_sizes=(1, 1, 1, 1), block="bottleneck",
              widths=(16, 32, 64, 128), stem_features=24, pool1=False)
  return {f"{kind}_csn_tiny": (functools.partial(ResNet3D, conv_kinds=kind,
                                                 **tiny), (8, 32, 32))
          for kind in ("ir", "ip")}


_PRESETS: dict[str, Preset] = {
    **_csn_family(), **_torchvision_family(), **_tiny_family()}

MODELS: dict[str, Callable[..., ResNet3D]] = {
    name: ctor for name, (ctor, _) in _PRESETS.items()}

# Clip size (T, H, W) each model is usually run at (for FLOP tables).
REFERENCE_SHAPES: dict[str, tuple[int, int, int]] = {
    name: shape for name, (_, shape) in _PRESETS.items()}
