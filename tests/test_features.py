"""Penultimate features of every model family: shape, and the logits are the
model's own classifier applied to them (checked in numpy)."""
from __future__ import annotations

import jax
import numpy as np
import pytest

from video_flax import features
from video_flax import models
from video_flax import variable_trees
from video_flax import variable_init

NUM_CLASSES = 6
# One tiny model per family (two-stream: every fusion kind).
FAMILY_MODELS = ("ir_csn_tiny", "i3d_rgb_tiny", "i3d_flow_tiny", "s3d_tiny",
                 "c3d_bn_tiny", "convnet_lstm_tiny", "frame2d_tiny",
                 "inception_v1_2d_tiny", "two_stream_i3d_tiny",
                 "two_stream_late_fusion_tiny", "two_stream_3d_fused_tiny")


def _inputs(model, rng):
  keys = getattr(model, "input_keys", ("video",))
  clips = {k: rng.standard_normal((2, 8, 32, 32, 3 if k == "video" else 2),
                                  np.float32) for k in keys}
  return clips[keys[0]] if len(keys) == 1 else clips


def _head_logits(params, feats: np.ndarray) -> np.ndarray:
  """Mean over the model's classifier(s) of feats_slice @ W + b."""
  flat = variable_trees.flatten(params)
  kernels = sorted(p for p in flat if "head" in p.split("/")
                   and p.endswith("kernel"))
  out, offset = [], 0
  for path in kernels:
    w = np.asarray(flat[path]).reshape(-1, NUM_CLASSES)
    bias = np.asarray(flat[path[:-len("kernel")] + "bias"])
    out.append(feats[:, offset:offset + len(w)] @ w + bias)
    offset += len(w)
  assert offset == feats.shape[1]
  return np.mean(out, axis=0)


@pytest.mark.parametrize("name", FAMILY_MODELS)
def test_logits_are_the_classifier_of_the_features(name):
  model = models.build_model(name, NUM_CLASSES)
  rng = np.random.default_rng(0)
  x = _inputs(model, rng)
  variables = variable_init.random_variables(model, x)
  logits, feats = jax.jit(lambda v, x: features.logits_and_features(
      model, v, x))(variables, x)
  feats = np.asarray(feats, np.float64)
  assert feats.ndim == 2 and feats.shape[0] == 2 and feats.shape[1] >= 8
  assert np.std(feats) > 0
  np.testing.assert_allclose(_head_logits(variables["params"], feats),
                             np.asarray(logits), rtol=1e-4, atol=1e-4)
