"""The training loss and its gradients for one (micro-)batch.

`train.train_step` applies them (plainly or through `accumulation.py`).
"""
from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from video_flax import models


def cross_entropy(logits: jax.Array, labels: jax.Array, num_classes: int,
                  label_smoothing: float) -> jax.Array:
  """Mean softmax cross-entropy; logits [B, K] or [B, T, K] (mean over T)."""
  targets = optax.smooth_labels(jax.nn.one_hot(labels, num_classes),
                                label_smoothing)
  if logits.ndim == 3:
    targets = jnp.broadcast_to(targets[:, None], logits.shape)
  return jnp.mean(optax.softmax_cross_entropy(logits, targets))


def loss_and_grads(params: Any, batch_stats: Any, batch: dict[str, jax.Array],
                   key: jax.Array, *, model: nn.Module, num_classes: int,
                   label_smoothing: float, train_bn: bool) -> tuple:
  """((loss, (logits, new batch_stats)), grads) of one (micro-)batch."""
  inputs = models.model_inputs(model, batch)

  def loss_fn(params):
    variables = {"params": params, "batch_stats": batch_stats}
    if train_bn:
      logits, updates = model.apply(variables, inputs, train=True,
                                    mutable=["batch_stats"],
                                    rngs={"dropout": key})
      new_stats = updates["batch_stats"]
    else:
      logits = model.apply(variables, inputs, train=False)
      new_stats = batch_stats
    logits = logits.astype(jnp.float32)
    loss = cross_entropy(logits, batch["label"], num_classes, label_smoothing)
    return loss, (logits, new_stats)

  return jax.value_and_grad(loss_fn, has_aux=True)(params)
