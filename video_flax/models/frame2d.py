"""A single-frame 2D ResNet: the motion-blind baseline.

It sees only the middle frame of the clip, so on a dataset whose classes are
defined by motion it must stay near chance; a 3D model trained the same way
shows what motion adds. Its blocks are the tiny CSN's bottlenecks with 2D
(1 x 3 x 3) convs, so the two differ only in what they can see.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax

from video_flax.models.layers import Conv3D, batch_norm, global_avg_pool
from video_flax.models.resnet3d_blocks import BottleneckBlock

Array = jax.Array


class Frame2D(nn.Module):
  """2D bottleneck ResNet on the middle frame of [B, T, H, W, C]."""
  stage_sizes: Sequence[int] = (1, 1, 1, 1)
  widths: Sequence[int] = (16, 32, 64, 128)
  expansion: int = 4
  stem_features: int = 24
  stem_kernel: Sequence[int] = (7, 7)
  stem_strides: Sequence[int] = (2, 2)
  num_classes: int = 10
  dropout_rate: float = 0.0
  bn_epsilon: float = 1e-3
  zero_init_residual: bool = True  # as ResNet3D's (the default run: False)
  dtype: Any = None

  @nn.compact
  def __call__(self, x: Array, train: bool = False) -> Array:
    """x: [B, T, H, W, C] -> logits [B, num_classes], from x[:, T // 2] only."""
    if x.ndim != 5:
      raise ValueError(f"Frame2D expects [B, T, H, W, C], got shape {x.shape}")
    middle = x.shape[1] // 2
    x = x[:, middle:middle + 1]
    x = Conv3D(self.stem_features, (1, *self.stem_kernel),
               (1, *self.stem_strides), dtype=self.dtype, name="conv1")(x)
    x = nn.relu(batch_norm(train, epsilon=self.bn_epsilon, dtype=self.dtype,
                           name="bn1")(x))
    for i, size in enumerate(self.stage_sizes):
      for j in range(size):
        strides = (1, 2, 2) if i > 0 and j == 0 else (1, 1, 1)
        x = BottleneckBlock(self.widths[i], self.widths[i] * self.expansion,
                            kind="2d", strides=strides,
                            bn_epsilon=self.bn_epsilon,
                            zero_init_residual=self.zero_init_residual,
                            dtype=self.dtype,
                            name=f"conv{i + 2}_{j + 1}")(x, train)
    x = global_avg_pool(x)
    self.sow("intermediates", "features", x)  # video_flax/features.py
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    return nn.Dense(self.num_classes, dtype=self.dtype, name="head")(x)


MODELS: dict[str, Callable[..., Frame2D]] = {
    "frame2d_tiny": functools.partial(Frame2D),
}

REFERENCE_SHAPES: dict[str, tuple[int, int, int]] = {
    "frame2d_tiny": (8, 32, 32)}
