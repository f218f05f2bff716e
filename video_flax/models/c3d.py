"""The C3D variant of the Quo Vadis paper ("3D-ConvNet" of its Table 1).

C3D (Tran et al. 2015): 8 convs 3x3x3 (64, 128, 256, 256, 512, 512, 512,
512), 5 max pools, fc6 and fc7 of 4096, and the classifier. The Quo Vadis
changes: batch norm after every conv and fully connected layer (so no conv or
fc biases), and the first pool with temporal stride 2 (2x2x2 instead of
1x2x2). Pools use TF "SAME" padding: on a 16x112x112 clip the last pool sees
1x7x7 and gives 1x4x4, so fc6 reads 8192 features. That layout has
79,645,520 parameters with 400 classes, the paper's "79M"; original C3D
(pool5 output 1x3x3, 4608 features into fc6) has 64.9M.
"""
from __future__ import annotations

import functools
from typing import Any, ClassVar

import flax.linen as nn
import jax

from video_flax.models import layers
from video_flax.models.inception import max_pool

Array = jax.Array
Dtype = Any

# Conv widths of the five stages; a 2x2x2 max pool (stride 2) ends each one.
C3D_STAGES = ((64,), (128,), (256, 256), (512, 512), (512, 512))


class C3D(nn.Module):
  """C3D with batch norm: video [B, T, H, W, 3] -> logits [B, num_classes].

  The fc layers read the flattened last pool, so a model is tied to the
  clip size it was built for (16x112x112 in the paper); flattening H x W
  into features, it cannot keep them split over a spatial mesh axis.
  """
  flattens_space: ClassVar[bool] = True
  num_classes: int
  dropout_rate: float = 0.5
  width: float = 1.0
  fc_features: int = 4096
  bn_scale: bool = True
  dtype: Dtype | None = None

  def _bn_relu(self, x: Array, train: bool, name: str) -> Array:
    x = layers.batch_norm(train, use_scale=self.bn_scale, dtype=self.dtype,
                          name=name)(x)
    return nn.relu(x)

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    for stage, widths in enumerate(C3D_STAGES, start=1):
      for letter, features in zip("ab", widths):
        name = f"conv{stage}{letter}"
        x = layers.Conv3D(max(int(features * self.width), 1), (3, 3, 3),
                          dtype=self.dtype, name=name)(x)
        x = self._bn_relu(x, train, name + "_bn")
      x = max_pool(x, (2, 2, 2), (2, 2, 2), mode="same")
    x = x.reshape(x.shape[0], -1)
    for name in ("fc6", "fc7"):
      x = nn.Dense(self.fc_features, use_bias=False, dtype=self.dtype,
                   name=name)(x)
      x = self._bn_relu(x, train, name + "_bn")
      x = nn.Dropout(self.dropout_rate)(x, deterministic=not train)
    self.sow("intermediates", "features", x)  # video_flax/features.py
    return nn.Dense(self.num_classes, dtype=self.dtype, name="head")(x)


MODELS = {
    "c3d_bn": C3D,
    "c3d_bn_tiny": functools.partial(C3D, width=0.125, fc_features=128),
}

REFERENCE_SHAPES = {"c3d_bn": (16, 112, 112)}
