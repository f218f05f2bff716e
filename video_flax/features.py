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

from video_flax import variable_trees

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
