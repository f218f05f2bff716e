"""A train step on 8 fake CPU devices equals the 1-device step."""
from __future__ import annotations

import json

from conftest import run_python

_SCRIPT = r"""
import functools, json
import jax, ml_collections, numpy as np
from video_flax import base_config, models, optim, sharding, train

assert jax.device_count() == 8, jax.devices()
cfg = base_config.get_base_config()
cfg.train.learning_rate, cfg.train.warmup_steps = 0.05, 0
model = models.from_config(cfg.model, num_classes=5)
tx = optim.make_optimizer(cfg.train, optim.make_schedule(cfg.train))
rng = np.random.default_rng(0)
batches = [{"video": rng.normal(size=(8, 4, 16, 16, 3)).astype(np.float32),
            "label": rng.integers(0, 5, 8).astype(np.int32)} for _ in range(3)]

def run(devices):
  mesh = sharding.make_mesh(ml_collections.ConfigDict({"data": -1, "model": 1}),
                            devices)
  state = train.create_train_state(model, tx, jax.random.key(0), batches[0], mesh)
  step = jax.jit(functools.partial(train.train_step, model=model, tx=tx,
                                   num_classes=5, label_smoothing=0.1))
  losses = []
  for b in batches:
    gb = sharding.global_batch(b, mesh)
    assert len(gb["video"].sharding.device_set) == len(devices)
    state, metrics = step(state, gb, jax.random.key(1))
    losses.append(float(metrics["loss"]))
  return jax.device_get(state), losses

s8, l8 = run(jax.devices())
s1, l1 = run(jax.devices()[:1])
leaves8 = jax.tree.leaves((s8.params, s8.batch_stats))
leaves1 = jax.tree.leaves((s1.params, s1.batch_stats))
diff = max(float(np.max(np.abs(a - b))) for a, b in zip(leaves8, leaves1))
init = jax.device_get(train.create_train_state(
    model, tx, jax.random.key(0), batches[0],
    sharding.make_mesh(ml_collections.ConfigDict({"data": 1, "model": 1}),
                       jax.devices()[:1])).params)
moved = max(float(np.max(np.abs(a - b))) for a, b in
            zip(jax.tree.leaves(s1.params), jax.tree.leaves(init)))
print(json.dumps({"max_diff": diff, "moved": moved, "l8": l8, "l1": l1}))
"""


def test_sharded_step_equals_single_device():
  proc = run_python(_SCRIPT, devices=8)
  assert proc.returncode == 0, proc.stderr[-3000:]
  out = json.loads(proc.stdout.strip().splitlines()[-1])
  assert out["moved"] > 1e-3  # the steps really changed the parameters
  assert out["max_diff"] < 1e-4, out
  for a, b in zip(out["l8"], out["l1"]):
    assert abs(a - b) < 1e-5, out
