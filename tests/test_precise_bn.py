"""Precise BN recomputes statistics equal to an independent numpy average."""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from video_flax import precise_bn
from video_flax import sharding
from video_flax import train
from video_flax.models import layers
import ml_collections


class _TwoBN(nn.Module):
  """Dense -> BN (momentum 0.9) -> relu -> Dense -> BN (momentum 0.5)."""
  num_classes: int = 3

  @nn.compact
  def __call__(self, x, train):
    x = x.reshape(x.shape[0], -1)
    x = nn.Dense(4, name="dense1")(x)
    x = layers.batch_norm(train, name="bn1")(x)
    x = nn.relu(x)
    x = nn.Dense(self.num_classes, name="head")(x)
    return nn.BatchNorm(use_running_average=not train, momentum=0.5,
                        name="bn2")(x)


def _numpy_forward_stats(params, batches):
  """Per-batch BN moments computed by hand, averaged over batches."""
  m1, v1, m2, v2 = [], [], [], []
  for video in batches:
    x = video.reshape(video.shape[0], -1).astype(np.float64)
    h = x @ params["dense1"]["kernel"] + params["dense1"]["bias"]
    mu, var = h.mean(0), h.var(0)
    m1.append(mu), v1.append(var)
    h = (h - mu) / np.sqrt(var + 1e-3) * params["bn1"]["scale"] + params["bn1"]["bias"]
    h = np.maximum(h, 0) @ params["head"]["kernel"] + params["head"]["bias"]
    m2.append(h.mean(0)), v2.append(h.var(0))
  return {"bn1": {"mean": np.mean(m1, 0), "var": np.mean(v1, 0)},
          "bn2": {"mean": np.mean(m2, 0), "var": np.mean(v2, 0)}}


def test_precise_bn_equals_numpy_average_of_batch_moments():
  model = _TwoBN()
  rng = np.random.default_rng(0)
  batches = [rng.normal(2.0, 3.0, size=(8, 2, 2, 2, 3)).astype(np.float32)
             for _ in range(3)]
  variables = model.init(jax.random.key(0), jnp.asarray(batches[0]), train=False)
  params = jax.tree.map(np.asarray, variables["params"])
  stale = jax.tree.map(lambda s: s + 7.0, variables["batch_stats"])
  state = train.TrainState(step=0, params=variables["params"],
                           batch_stats=stale, opt_state=())
  mesh = sharding.make_mesh(ml_collections.ConfigDict({"data": 1, "spatial": 1}),
                            jax.devices()[:1])
  stream = iter([{"video": b, "label": np.zeros(8, np.int32)} for b in batches])
  stats = precise_bn.recompute_batch_stats(state, model, stream, 3, mesh)
  expected = _numpy_forward_stats(params, batches)
  for layer in ("bn1", "bn2"):
    for key in ("mean", "var"):
      np.testing.assert_allclose(np.asarray(stats[layer][key]),
                                 expected[layer][key], rtol=2e-4, atol=2e-4)
