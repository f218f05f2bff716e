"""S3D and S3D-G (Xie et al., "Rethinking Spatiotemporal Feature Learning").

S3D is I3D with every k x k x k conv (k > 1) split into a 1 x k x k spatial
conv and a k x 1 x 1 temporal conv, each followed by batch norm and ReLU.
`s3d` matches torchvision.models.video.s3d exactly (8,320,048 parameters
with 400 classes): symmetric PyTorch padding, BN with scale, epsilon 1e-3,
the separable 7x7x7 stem, and logits a 1x1x1 conv with bias on the
[2, 7, 7]-average-pooled features, averaged over time.

S3D-G adds feature gating, y = sigmoid(W mean(x) + b) * x with W a C x C
matrix on the spatio-temporal average of x, after Conv_2c and after every
branch of every Inception block (where TF-slim's s3dg.py places it with
gating starting at Conv2d_2c_3x3). The paper's formula has the bias b; slim
omits it. torchvision has no S3D-G, so its count is this layout's own.
"""
from __future__ import annotations

import functools
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from video_flax.models import layers
from video_flax.models.inception import (TINY, BackboneSize,
                                         InceptionV1Backbone,
                                         PooledConvHead, backbone_options,
                                         padding_for)

Array = jax.Array
Dtype = Any


class SeparableConvBNReLU(nn.Module):
  """k_t x k x k conv -> (1 x k x k conv, BN, ReLU, k_t x 1 x 1 conv, BN, ReLU).

  Kernels with k_t == 1 or k == 1 stay a single conv -> BN -> ReLU (named
  conv / bn); split ones are conv_s / bn_s then conv_t / bn_t.
  """
  features: int
  kernel_size: Sequence[int]
  strides: Sequence[int] | None = None
  padding_mode: str = "symmetric"
  bn_epsilon: float = 1e-3
  dtype: Dtype | None = None

  def _conv_bn_relu(self, x: Array, kernel: Sequence[int],
                    strides: Sequence[int], suffix: str, train: bool) -> Array:
    padding = padding_for(self.padding_mode, x.shape[1:4], kernel, strides)
    x = layers.Conv3D(self.features, tuple(kernel), tuple(strides), padding,
                      dtype=self.dtype, name="conv" + suffix)(x)
    x = layers.batch_norm(train, epsilon=self.bn_epsilon, dtype=self.dtype,
                          name="bn" + suffix)(x)
    return nn.relu(x)

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    kt, kh, kw = self.kernel_size
    st, sh, sw = self.strides or (1, 1, 1)
    if kt == 1 or kh * kw == 1:
      return self._conv_bn_relu(x, (kt, kh, kw), (st, sh, sw), "", train)
    x = self._conv_bn_relu(x, (1, kh, kw), (1, sh, sw), "_s", train)
    return self._conv_bn_relu(x, (kt, 1, 1), (st, 1, 1), "_t", train)


class SelfGating(nn.Module):
  """S3D-G feature gating: x * sigmoid(W mean_{T,H,W}(x) + b), per channel."""
  dtype: Dtype | None = None

  @nn.compact
  def __call__(self, x: Array) -> Array:
    context = jnp.mean(x, axis=(1, 2, 3))
    weights = nn.Dense(x.shape[-1], dtype=self.dtype, name="fc")(context)
    return x * nn.sigmoid(weights)[:, None, None, None, :]


class S3D(BackboneSize):
  """S3D / S3D-G: video [B, T, H, W, 3] -> logits [B, num_classes]."""
  num_classes: int
  gating: bool = False
  dropout_rate: float = 0.2
  dtype: Dtype | None = None

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    unit = functools.partial(SeparableConvBNReLU, dtype=self.dtype)
    gate = functools.partial(SelfGating, dtype=self.dtype) if self.gating else None
    x = InceptionV1Backbone(True, unit=unit, padding_mode="symmetric",
                            gate=gate, name="backbone",
                            **backbone_options(self))(x, train)
    return PooledConvHead(self.num_classes, self.dropout_rate, True,
                          self.dtype, name="head")(x, train)


MODELS = {
    "s3d": functools.partial(S3D, gating=False),
    "s3d_g": functools.partial(S3D, gating=True),
    "s3d_tiny": functools.partial(S3D, gating=False, **TINY),
    "s3d_g_tiny": functools.partial(S3D, gating=True, **TINY),
}

REFERENCE_SHAPES = {"s3d": (16, 224, 224), "s3d_g": (16, 224, 224)}
