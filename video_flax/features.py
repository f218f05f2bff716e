"""Penultimate features: the pooled input of a model's linear classifier.

Every registered model sows it as `intermediates/.../features` (resnet3d,
frame2d, c3d, lstm: [B, C]; the Inception heads of i3d / s3d / the 2D
Inception: [B, T', C], pooled here over time; two-stream nets: one per
stream, concatenated in path order, 'flow/...' before 'rgb/...'). The logits are an affine function of these
features (the head), so they are what a linear probe or retrieval reads.
"""
from __future__ import annotations

from typing import Any, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from video_flax import models
from video_flax import variable_trees
from video_flax.models import cpu_compile

FEATURES = "features"


def pooled_features(intermediates: Mapping[str, Any]) -> jax.Array:
  """[B, D] from the sown `features` leaves (each [B, ..., C], averaged over
  the middle axes), concatenated in path order (dict order changes when a
  tree passes through jit; paths do not)."""
  flat = variable_trees.flatten(intermediates)
  found = [flat[p][0] for p in sorted(flat) if p.split("/")[-1] == FEATURES]
  if not found:
    raise ValueError("the model sowed no 'features' intermediate; see "
                     "video_flax/features.py")
  pooled = [f if f.ndim == 2 else jnp.mean(f, axis=tuple(range(1, f.ndim - 1)))
            for f in found]
  return jnp.concatenate([p.astype(jnp.float32) for p in pooled], axis=-1)


def logits_and_features(model: nn.Module, variables: Mapping[str, Any],
                        inputs: Any) -> tuple[jax.Array, jax.Array]:
  """One eval-mode pass: (logits [B, K], features [B, D]) (pure; jit it).

  inputs: a clip [B, T, H, W, C] or a {input key: clip} dict, as
    model.apply takes it.
  """
  logits, state = model.apply(dict(variables), inputs, train=False,
                              mutable=["intermediates"])
  return logits, pooled_features(state["intermediates"])


class ViewRunner:
  """Runs a model over a video's views in fixed-size batches (one compile).

  __call__({input key: [V, ...]}) -> (logits float32 [V, K], features
  float32 [V, D]); the last batch is padded by repeating its last view.
  """

  def __init__(self, model: nn.Module, variables: Mapping[str, Any],
               batch_size: int):
    if batch_size < 1:
      raise ValueError(f"batch_size={batch_size} must be >= 1")
    self._model = model
    self._variables = jax.device_put(dict(variables))
    self._batch_size = batch_size
    self._fn = cpu_compile.jit(lambda v, x: logits_and_features(model, v, x))

  def __call__(self, inputs: Mapping[str, np.ndarray]
               ) -> tuple[np.ndarray, np.ndarray]:
    num_views = len(next(iter(inputs.values())))
    size = min(self._batch_size, num_views)
    logits, feats = [], []
    for start in range(0, num_views, size):
      batch = {k: v[start:start + size] for k, v in inputs.items()}
      real = len(next(iter(batch.values())))
      batch = {k: np.concatenate([v, np.repeat(v[-1:], size - real, 0)])
               for k, v in batch.items()}
      out = self._fn(self._variables,
                     models.model_inputs(self._model, batch))
      logits.append(np.asarray(out[0], np.float32)[:real])
      feats.append(np.asarray(out[1], np.float32)[:real])
    return np.concatenate(logits), np.concatenate(feats)
