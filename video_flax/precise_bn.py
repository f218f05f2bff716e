"""Precise BN: recompute batch-norm statistics before evaluation.

Running averages with momentum lag behind the weights: after a short run
they describe early-training activations, and eval-mode accuracy can drop
far below train-mode accuracy. As in PySlowFast, the statistics are
recomputed as the plain average of per-batch means and variances over a few
training batches, with the network in training mode (each BN layer sees the
activations produced by batch-normalised earlier layers, as in training).
"""
from __future__ import annotations

import functools
from typing import Any, Iterator

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from video_flax import models
from video_flax import sharding as sharding_lib
from video_flax.models import cpu_compile


def batch_moments(params: Any, batch_stats: Any, batch: dict[str, jax.Array], *,
                  model: nn.Module) -> Any:
  """Per-layer batch mean and variance of one batch, as a batch_stats tree.

  flax updates running = m * running + (1 - m) * batch. Applying the model
  with running statistics all 0 and all 1 gives (1 - m) * batch and
  m + (1 - m) * batch, which yield each layer's momentum m and batch moments
  without reading any module's settings.
  """
  x = models.model_inputs(model, batch)

  def updated_from(fill: float) -> Any:
    start = jax.tree.map(lambda s: jnp.full_like(s, fill), batch_stats)
    _, updated = model.apply({"params": params, "batch_stats": start}, x,
                             train=True, mutable=["batch_stats"],
                             rngs={"dropout": jax.random.key(0)})
    return updated["batch_stats"]

  from_zeros, from_ones = updated_from(0.0), updated_from(1.0)
  return jax.tree.map(lambda z, o: z / (1.0 - (o - z)), from_zeros, from_ones)


def recompute_batch_stats(state: Any, model: nn.Module,
                          batches: Iterator[dict[str, np.ndarray]],
                          num_batches: int, mesh: jax.sharding.Mesh) -> Any:
  """Averages per-batch statistics over `num_batches` training batches.

  Args:
    state: train state with params and batch_stats.
    batches: process-local training batches (video [b, T, H, W, C], ...).
  Returns:
    a batch_stats tree of the same structure as `state.batch_stats`.
  """
  moments = cpu_compile.jit(functools.partial(batch_moments, model=model))
  total = None
  for _ in range(num_batches):
    local = next(batches)
    batch = sharding_lib.global_batch(
        {k: v for k, v in local.items() if k not in ("mask", "index")}, mesh)
    moments_i = moments(state.params, state.batch_stats, batch)
    total = (moments_i if total is None
             else jax.tree.map(jnp.add, total, moments_i))
  if total is None:
    return state.batch_stats
  return jax.tree.map(lambda s: s / num_batches, total)
