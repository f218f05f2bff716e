"""Two-stream models of the Quo Vadis paper: RGB and optical flow together.

Called with a dict {'video': [B, T, H, W, 3], 'flow': [B, T_f, H, W, 2]}.

- `TwoStreamLateFusion`: a 2D Inception-V1 on single RGB frames and one on
  stacks of `flow_stack` (10) consecutive flow frames (20 channels); the
  flow clip is cut into T_f / 10 snippets, each paired with one RGB frame
  (Table 1: 1 RGB + 10 flow frames in training, 25 + 250 at test).
- `TwoStream3DFused`: 5 such snippets (RGB frames 10 apart) through both
  Inception-V1s up to their last pooling (5 x 7 x 7 grids at 224), fused by
  a 3x3x3 conv with 512 outputs, a 3x3x3 max pool and a fully connected
  layer, the new layers initialised with Gaussian noise.
- `TwoStreamI3D`: an RGB I3D and a flow I3D on the same clip.

RGB frames: `video` holds either one frame per snippet (T == T_f / 10) or
every frame of the flow clip (T == T_f), then the middle frame of each
snippet is used.

The streams of late fusion and two-stream I3D are trained separately in the
paper and their scores averaged at test (deepmind/kinetics-i3d adds the
logits). Here one model holds both: in training it returns per-stream logits
[B, 2, K], so the trainer's mean cross-entropy over axis 1 gives each stream
its own loss (each gets half the gradient of a separate run: use twice the
learning rate to match); in evaluation the averaged logits [B, K].
"""
from __future__ import annotations

import functools
from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from video_flax.models import layers
from video_flax.models.inception import (TINY, BackboneSize, ConvBNReLU,
                                         InceptionV1, InceptionV1Backbone,
                                         backbone_options, max_pool)

Array = jax.Array
Dtype = Any


def stack_flow(flow: Array, flow_stack: int) -> Array:
  """[B, S * L, H, W, 2] -> [B, S, H, W, 2 * L]: L consecutive flow frames
  per snippet as channels (x0, y0, x1, y1, ...), L = flow_stack."""
  b, t, h, w, c = flow.shape
  if t % flow_stack:
    raise ValueError(f"flow has {t} frames, not a multiple of flow_stack="
                     f"{flow_stack}")
  flow = flow.reshape(b, t // flow_stack, flow_stack, h, w, c)
  return flow.transpose(0, 1, 3, 4, 2, 5).reshape(
      b, t // flow_stack, h, w, flow_stack * c)


def snippet_frames(video: Array, snippets: int, flow_stack: int) -> Array:
  """One RGB frame per flow snippet: [B, S, H, W, 3]."""
  t = video.shape[1]
  if t == snippets:
    return video
  if t == snippets * flow_stack:
    return video[:, flow_stack // 2::flow_stack]
  raise ValueError(f"video has {t} frames; with {snippets} flow snippets it "
                   f"must have {snippets} (one per snippet) or "
                   f"{snippets * flow_stack} (one per flow frame)")


def _streams_output(rgb: Array, flow: Array, train: bool) -> Array:
  """[B, 2, K] per-stream logits in training, their mean [B, K] otherwise."""
  return jnp.stack([rgb, flow], axis=1) if train else (rgb + flow) / 2


class TwoStreamLateFusion(BackboneSize):
  """2D RGB Inception-V1 + 2D flow Inception-V1 on stacked flow, averaged."""
  input_keys: ClassVar[tuple[str, ...]] = ("video", "flow")
  num_classes: int
  flow_stack: int = 10
  dropout_rate: float = 0.5
  bn_scale: bool = False
  dtype: Dtype | None = None

  @nn.compact
  def __call__(self, inputs: dict[str, Array], train: bool) -> Array:
    flow = stack_flow(inputs["flow"], self.flow_stack)
    rgb = snippet_frames(inputs["video"], flow.shape[1], self.flow_stack)
    stream = functools.partial(
        InceptionV1, self.num_classes, temporal=False,
        dropout_rate=self.dropout_rate, bn_scale=self.bn_scale,
        dtype=self.dtype, **backbone_options(self))
    return _streams_output(stream(name="rgb")(rgb, train),
                           stream(name="flow")(flow, train), train)


class TwoStream3DFused(BackboneSize):
  """Both Inception-V1 feature grids fused by 3x3x3 conv, pool and fc."""
  input_keys: ClassVar[tuple[str, ...]] = ("video", "flow")
  num_classes: int
  flow_stack: int = 10
  fusion_features: int = 512
  dropout_rate: float = 0.5
  bn_scale: bool = False
  dtype: Dtype | None = None

  @nn.compact
  def __call__(self, inputs: dict[str, Array], train: bool) -> Array:
    flow = stack_flow(inputs["flow"], self.flow_stack)
    rgb = snippet_frames(inputs["video"], flow.shape[1], self.flow_stack)
    backbone = functools.partial(
        InceptionV1Backbone, False, **backbone_options(self),
        unit=functools.partial(ConvBNReLU, bn_scale=self.bn_scale,
                               dtype=self.dtype))
    x = jnp.concatenate([backbone(name="rgb")(rgb, train),
                         backbone(name="flow")(flow, train)], axis=-1)
    gaussian = nn.initializers.normal(stddev=0.01)
    x = layers.Conv3D(self.fusion_features, (3, 3, 3), dtype=self.dtype,
                      kernel_init=gaussian, name="fusion_conv")(x)
    x = layers.batch_norm(train, use_scale=self.bn_scale, dtype=self.dtype,
                          name="fusion_bn")(x)
    x = max_pool(nn.relu(x), (3, 3, 3), (2, 2, 2), mode="same")
    x = layers.global_avg_pool(x)
    self.sow("intermediates", "features", x)  # video_flax/features.py
    x = nn.Dropout(self.dropout_rate)(x, deterministic=not train)
    return nn.Dense(self.num_classes, dtype=self.dtype, kernel_init=gaussian,
                    name="head")(x)


class TwoStreamI3D(BackboneSize):
  """RGB I3D on `video` and flow I3D on `flow` (same clip), averaged."""
  input_keys: ClassVar[tuple[str, ...]] = ("video", "flow")
  num_classes: int
  dropout_rate: float = 0.5
  bn_scale: bool = False
  dtype: Dtype | None = None

  @nn.compact
  def __call__(self, inputs: dict[str, Array], train: bool) -> Array:
    stream = functools.partial(
        InceptionV1, self.num_classes, temporal=True,
        dropout_rate=self.dropout_rate, bn_scale=self.bn_scale,
        dtype=self.dtype, **backbone_options(self))
    return _streams_output(stream(name="rgb")(inputs["video"], train),
                           stream(name="flow")(inputs["flow"], train), train)


# Tiny clips are 8-16 frames: snippets of 4 flow frames (8 channels).
_TINY_STREAMS = {**TINY, "flow_stack": 4}

MODELS = {
    "two_stream_late_fusion": TwoStreamLateFusion,
    "two_stream_3d_fused": TwoStream3DFused,
    "two_stream_i3d": TwoStreamI3D,
    "two_stream_late_fusion_tiny": functools.partial(TwoStreamLateFusion,
                                                     **_TINY_STREAMS),
    "two_stream_3d_fused_tiny": functools.partial(
        TwoStream3DFused, fusion_features=64, **_TINY_STREAMS),
    "two_stream_i3d_tiny": functools.partial(TwoStreamI3D, **TINY),
}

# Flow clips of Quo Vadis' Table 1: 10 flow frames (1 snippet) for late
# fusion, 50 (5 snippets) for 3D-fused, 64 frames of both for two-stream I3D.
REFERENCE_SHAPES = {"two_stream_late_fusion": (10, 224, 224),
                    "two_stream_3d_fused": (50, 224, 224),
                    "two_stream_i3d": (64, 224, 224)}
