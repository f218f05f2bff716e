"""ConvNet+LSTM of the Quo Vadis paper.

Inception-V1 (2D, batch norm) runs on every frame; its features after the
last average pool feed an LSTM with 512 hidden units and batch norm, whose
output at every step goes through dropout and the classifier. Training puts
a loss on every step (the model returns [B, T, K]; the trainer averages the
cross-entropy over T); evaluation returns the last step's logits [B, K].

Batch norm in the LSTM: the paper names it without details. Here it
normalizes the input-to-hidden projection W_x x_t, with statistics over the
batch and all time steps (one BN layer, called once per forward pass), and
its offset is the gates' bias. Normalizing W_h h_{t-1} per time step
(Cooijmans et al.'s recurrent BN) would call a BN layer T times per pass,
which breaks precise BN (it reads each layer's momentum from one update)
and ties the statistics to the training clip length (25 frames in training,
50 at test in the paper).
"""
from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from video_flax.models import layers
from video_flax.models.inception import (TINY, BackboneSize, ConvBNReLU,
                                         InceptionV1Backbone,
                                         backbone_options)

Array = jax.Array
Dtype = Any


class BatchNormLSTM(nn.Module):
  """LSTM whose input projection is batch-normalized: [B, T, D] -> [B, T, H].

  Gates (input, forget, cell, output) = BN(W_x x_t) + W_h h_{t-1}; the
  state starts at zero.
  """
  hidden: int
  dtype: Dtype | None = None

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    gates_x = nn.Dense(4 * self.hidden, use_bias=False, dtype=self.dtype,
                       name="input")(x)
    gates_x = layers.batch_norm(train, dtype=self.dtype, name="input_bn")(gates_x)
    w_h = self.param("recurrent", nn.initializers.orthogonal(),
                     (self.hidden, 4 * self.hidden))
    gates_x, w_h = nn.dtypes.promote_dtype(gates_x, w_h, dtype=self.dtype)

    def step(carry: tuple[Array, Array], g_x: Array):
      h, c = carry
      i, f, g, o = jnp.split(g_x + h @ w_h, 4, axis=-1)
      c = nn.sigmoid(f) * c + nn.sigmoid(i) * jnp.tanh(g)
      h = nn.sigmoid(o) * jnp.tanh(c)
      return (h, c), h

    zeros = jnp.zeros((x.shape[0], self.hidden), gates_x.dtype)
    _, hs = lax.scan(step, (zeros, zeros), jnp.swapaxes(gates_x, 0, 1))
    return jnp.swapaxes(hs, 0, 1)


class ConvNetLSTM(BackboneSize):
  """Video [B, T, H, W, 3] -> logits [B, T, K] (train) or [B, K] (eval)."""
  num_classes: int
  hidden: int = 512
  dropout_rate: float = 0.5
  bn_scale: bool = False
  dtype: Dtype | None = None

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    unit = functools.partial(ConvBNReLU, bn_scale=self.bn_scale,
                             dtype=self.dtype)
    x = InceptionV1Backbone(False, unit=unit, name="backbone",
                            **backbone_options(self))(x, train)
    x = jnp.mean(x, axis=(2, 3))  # Inception-V1's last average pool, per frame
    x = BatchNormLSTM(self.hidden, self.dtype, name="lstm")(x, train)
    # The last step's state is what the eval logits read (features.py).
    self.sow("intermediates", "features", x[:, -1])
    x = nn.Dropout(self.dropout_rate)(x, deterministic=not train)
    logits = nn.Dense(self.num_classes, dtype=self.dtype, name="head")(x)
    return logits if train else logits[:, -1]


MODELS = {
    "convnet_lstm": ConvNetLSTM,
    "convnet_lstm_tiny": functools.partial(ConvNetLSTM, hidden=64, **TINY),
}

# 25 frames in training (Quo Vadis, Table 1).
REFERENCE_SHAPES = {"convnet_lstm": (25, 224, 224)}
