"""Remat and gradient accumulation against the plain step, in float32 and
bfloat16 compute."""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from video_flax import accumulation, models, train
from video_flax import loss as loss_lib

# bfloat16 keeps 8 bits of mantissa: the same math in another order (a
# recomputed block, micro-batch sums) moves results by ~1e-2 relative.
TOLERANCE = {"float32": 1e-5, "bfloat16": 3e-2}


def _setup(name: str, dtype: str, batch_size: int = 4):
  model = models.build_model(name, 5, dtype=jnp.dtype(dtype))
  rng = np.random.default_rng(0)
  batch = {"video": jnp.asarray(rng.normal(size=(batch_size, 4, 16, 16, 3)),
                                jnp.float32),
           "label": jnp.asarray(rng.integers(0, 5, batch_size), jnp.int32)}
  variables = model.init({"params": jax.random.key(0)}, batch["video"],
                         train=False)
  # Non-trivial BN statistics, so frozen BN is not the identity.
  stats = jax.tree.map(lambda x: x + 0.1, variables["batch_stats"])
  return model, batch, variables["params"], stats


def _grad_fn(model, train_bn):
  return functools.partial(loss_lib.loss_and_grads, model=model, num_classes=5,
                           label_smoothing=0.1, train_bn=train_bn)


def _rel_diff(a, b) -> float:
  return max(float(jnp.max(jnp.abs(x.astype(jnp.float32) - y)) /
                   (jnp.max(jnp.abs(y.astype(jnp.float32))) + 1e-12))
             for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


@pytest.mark.parametrize("name,dtype", [
    # All slow (CI's gated phase): ~45 s each on 2 cores.
    pytest.param("ir_csn_tiny", "float32", marks=pytest.mark.slow),
    pytest.param("ir_csn_tiny", "bfloat16", marks=pytest.mark.slow),
    pytest.param("i3d_rgb_tiny", "float32", marks=pytest.mark.slow),
    pytest.param("i3d_rgb_tiny", "bfloat16", marks=pytest.mark.slow)])
def test_remat_gives_the_plain_gradients(name, dtype):
  model, batch, params, stats = _setup(name, dtype)
  remat = model.clone(remat=True)
  args = (params, stats, batch, jax.random.key(1))
  jaxpr = str(jax.make_jaxpr(_grad_fn(remat, True))(*args))
  assert "remat" in jaxpr or "checkpoint" in jaxpr  # really rematerialised
  assert "remat" not in str(jax.make_jaxpr(_grad_fn(model, True))(*args))
  (loss, (_, new_stats)), grads = jax.jit(_grad_fn(model, True))(*args)
  (loss_r, (_, stats_r)), grads_r = jax.jit(_grad_fn(remat, True))(*args)
  assert abs(float(loss_r) - float(loss)) < TOLERANCE[dtype]
  assert _rel_diff(grads_r, grads) < TOLERANCE[dtype]
  assert _rel_diff(stats_r, new_stats) < TOLERANCE[dtype]


@pytest.mark.parametrize("dtype", [
    "float32", pytest.param("bfloat16", marks=pytest.mark.slow)])
def test_accumulation_with_bn_equals_micro_batches_in_turn(dtype):
  """BN training: each micro-batch (rows j, j + 2, ...) is normalised on
  its own; the result equals the micro-batches run one after the other
  (running statistics passed on), the gradients averaged."""
  model, batch, params, stats = _setup("ir_csn_tiny", dtype)
  grad_fn = jax.jit(_grad_fn(model, True))
  key = jax.random.key(1)
  losses, grad_list, chained = [], [], stats
  for j in range(2):
    micro = {k: v[j::2] for k, v in batch.items()}
    (loss, (_, chained)), grads = grad_fn(params, chained, micro,
                                          jax.random.fold_in(key, j))
    losses.append(float(loss))
    grad_list.append(grads)
  expected = jax.tree.map(lambda a, b: (a + b) / 2, *grad_list)
  (loss_a, (logits, stats_a)), grads_a = jax.jit(functools.partial(
      accumulation.accumulate_grads, _grad_fn(model, True), steps=2))(
          params, stats, batch, key)
  assert logits.shape == (4, 5)
  assert abs(float(loss_a) - np.mean(losses)) < TOLERANCE[dtype]
  assert _rel_diff(grads_a, expected) < TOLERANCE[dtype]
  assert _rel_diff(stats_a, chained) < TOLERANCE[dtype]
  # Per-micro-batch BN really differs from full-batch BN (the test above is
  # not the trivial one).
  (_, _), full = grad_fn(params, stats, batch, key)
  assert _rel_diff(full, expected) > 1e-3


@pytest.mark.parametrize("dtype", [
    "float32", pytest.param("bfloat16", marks=pytest.mark.slow)])
def test_accumulation_is_exact_without_batch_coupling(dtype):
  """BN frozen (running statistics, `train_bn=False`): the loss of a clip
  does not depend on the other clips, so `train_step` with 2 micro-batches
  updates the state as the plain step on the whole batch."""
  model, batch, params, stats = _setup("ir_csn_tiny", dtype)
  tx = optax.sgd(0.1, momentum=0.9)
  state = train.TrainState(step=jnp.zeros((), jnp.int32), params=params,
                           batch_stats=stats, opt_state=tx.init(params))
  step = functools.partial(train.train_step, model=model, tx=tx,
                           num_classes=5, label_smoothing=0.1,
                           train_bn=False)
  plain, m = jax.jit(step)(state, batch, jax.random.key(1))
  accum, m_a = jax.jit(functools.partial(step, grad_accum_steps=2))(
      state, batch, jax.random.key(1))
  moved = _rel_diff(plain.params, params)
  assert moved > 1e-3  # the step changed the parameters
  assert _rel_diff(accum.params, plain.params) < TOLERANCE[dtype]
  assert abs(float(m_a["loss"]) - float(m["loss"])) < TOLERANCE[dtype]
  assert float(m_a["accuracy"]) == float(m["accuracy"])
  assert int(accum.step) == 1
