"""Gradient accumulation: one batch as several micro-batches in turn.

Activation memory is that of one micro-batch; the gradient is the mean of
the micro-batch gradients, which is the full batch's gradient exactly when
the loss of one example does not depend on the others (BN frozen, or no
BN); with BN training, each micro-batch is normalised by its own
statistics (the standard, as in PyTorch; tests/test_accumulation.py).
"""
from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp


def accumulate_grads(grad_fn: Callable[..., tuple], params: Any,
                     batch_stats: Any, batch: dict[str, jax.Array],
                     key: jax.Array, steps: int) -> tuple:
  """`grad_fn` over `steps` micro-batches in turn (lax.scan), as one batch.

  Args:
    grad_fn: (params, batch_stats, micro_batch, key) ->
      ((loss, (logits, batch_stats)), grads), as `loss.loss_and_grads`.
    batch: arrays [B, ...] with B divisible by `steps`.
    key: dropout key; micro-batch j uses fold_in(key, j).
  Returns:
    ((mean loss, (logits [B, ...] in batch order, batch_stats)), mean grads).

  Micro-batch j holds rows j, j + steps, j + 2 * steps, ..., so each one
  spans every device of the data axis. BN normalises each micro-batch by
  its own statistics and updates the running averages once per
  micro-batch, in order (as accumulation does in PyTorch).
  """
  def split(x):  # [B, ...] -> [steps, B / steps, ...]
    return jnp.swapaxes(x.reshape(-1, steps, *x.shape[1:]), 0, 1)

  def body(carry, xs):
    stats, grad_sum, loss_sum = carry
    micro, j = xs
    (loss, (logits, stats)), grads = grad_fn(
        params, stats, micro, jax.random.fold_in(key, j))
    return (stats, jax.tree.map(jnp.add, grad_sum, grads),
            loss_sum + loss), logits

  zeros = jax.tree.map(jnp.zeros_like, params)
  (stats, grad_sum, loss_sum), logits = jax.lax.scan(
      body, (batch_stats, zeros, jnp.zeros((), jnp.float32)),
      (jax.tree.map(split, batch), jnp.arange(steps)))
  logits = jnp.swapaxes(logits, 0, 1).reshape(-1, *logits.shape[2:])
  grads = jax.tree.map(lambda g: g / steps, grad_sum)
  return (loss_sum / steps, (logits, stats)), grads
