"""Optimizer construction, weight-decay masking, loss and metric summaries."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from video_flax import base_config
from video_flax import evaluate
from video_flax import loss
from video_flax import optim
from video_flax import sharding
from video_flax import train


def _params():
  return {"conv": {"kernel": jnp.ones((3, 3, 3, 2, 4))},
          "bn": {"scale": jnp.ones((4,)), "bias": jnp.ones((4,))},
          "head": {"kernel": jnp.ones((4, 5)), "bias": jnp.ones((5,))}}


@pytest.mark.parametrize("name", optim.OPTIMIZERS)
def test_weight_decay_only_on_kernels(name):
  cfg = base_config.get_base_config().train
  cfg.optimizer, cfg.weight_decay, cfg.warmup_steps = name, 0.5, 0
  cfg.schedule = "constant"
  tx = optim.make_optimizer(cfg, optim.make_schedule(cfg))
  params = _params()
  zero_grads = jax.tree.map(jnp.zeros_like, params)
  updates, _ = tx.update(zero_grads, tx.init(params), params)
  assert float(jnp.abs(updates["conv"]["kernel"]).max()) > 0
  assert float(jnp.abs(updates["head"]["kernel"]).max()) > 0
  for leaf in (updates["bn"]["scale"], updates["bn"]["bias"],
               updates["head"]["bias"]):
    assert float(jnp.abs(leaf).max()) == 0.0


def test_warmup_then_cosine():
  cfg = base_config.get_base_config().train
  cfg.learning_rate, cfg.warmup_steps, cfg.num_steps = 0.4, 10, 110
  sched = optim.make_schedule(cfg)
  np.testing.assert_allclose(float(sched(5)), 0.2, rtol=1e-6)
  np.testing.assert_allclose(float(sched(10)), 0.4, rtol=1e-6)
  np.testing.assert_allclose(float(sched(60)), 0.2, rtol=1e-5)
  assert float(sched(110)) == pytest.approx(0.0, abs=1e-7)


def test_cross_entropy_matches_numpy_with_smoothing_and_time_axis():
  rng = np.random.default_rng(0)
  logits = rng.normal(size=(4, 3, 6)).astype(np.float32)
  labels = np.array([0, 5, 2, 2])
  smooth = 0.1
  targets = np.full((4, 6), smooth / 6) + (1 - smooth) * np.eye(6)[labels]
  logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  expected = -(targets[:, None] * logp).sum(-1).mean()
  got = loss.cross_entropy(jnp.asarray(logits), jnp.asarray(labels), 6, smooth)
  np.testing.assert_allclose(float(got), expected, rtol=1e-5)
  got2 = loss.cross_entropy(jnp.asarray(logits[:, 0]), jnp.asarray(labels), 6,
                             smooth)
  np.testing.assert_allclose(float(got2), -(targets * logp[:, 0]).sum(-1).mean(),
                             rtol=1e-5)


def test_summarize_counts_against_numpy():
  rng = np.random.default_rng(1)
  labels = rng.integers(0, 4, 50)
  preds = np.where(rng.random(50) < 0.6, labels, rng.integers(0, 4, 50))
  confusion = np.zeros((4, 4))
  np.add.at(confusion, (labels, preds), 1)
  out = evaluate.summarize({"loss_sum": 5.0, "top1": (labels == preds).sum(),
                            "top5": 50, "count": 50, "confusion": confusion})
  assert out["top1"] == pytest.approx((labels == preds).mean())
  per_class = [np.mean(preds[labels == c] == c) for c in range(4)]
  np.testing.assert_allclose(out["per_class_accuracy"], per_class)
  assert out["mean_class_accuracy"] == pytest.approx(np.mean(per_class))
  assert out["loss"] == pytest.approx(0.1)


def test_eval_counts_ignore_padding():
  class Fixed:
    input_keys = ("video",)

    def apply(self, variables, x, train):
      del variables, train
      return x[:, 0, 0, 0, :]

  logits = np.eye(3, dtype=np.float32)[[0, 1, 2, 0]]
  batch = {"video": jnp.asarray(logits)[:, None, None, None, :],
           "label": jnp.asarray([0, 1, 0, 2]),
           "mask": jnp.asarray([1.0, 1.0, 1.0, 0.0])}
  state = train.TrainState(step=0, params={}, batch_stats={}, opt_state=())
  counts = evaluate.eval_counts(state, batch, model=Fixed(), num_classes=3)
  assert float(counts["count"]) == 3
  assert float(counts["top1"]) == 2
  np.testing.assert_array_equal(np.asarray(counts["confusion"]),
                                [[1, 0, 1], [0, 1, 0], [0, 0, 0]])


def test_evaluate_averages_the_views_of_each_video():
  """Multi-view eval: per-view counts as before, plus video-level metrics
  from softmax scores averaged over each video's views (numpy reference)."""
  class Fixed:
    input_keys = ("video",)

    def apply(self, variables, x, train):
      del variables, train
      return x[:, 0, 0, 0, :]

  rng = np.random.default_rng(0)
  logits = rng.normal(0, 2, (12, 4)).astype(np.float32)
  video_index = np.repeat(np.arange(4), 3)  # 4 videos x 3 views
  labels = np.repeat(np.array([0, 1, 2, 3]), 3).astype(np.int32)
  mask = np.ones(12, np.float32)
  mask[-2:] = 0  # padding: the last video keeps one real view
  batches = [{"video": logits[i:i + 4, None, None, None, :],
              "label": labels[i:i + 4], "mask": mask[i:i + 4],
              "index": np.arange(i, i + 4), "video_index": video_index[i:i + 4]}
             for i in range(0, 12, 4)]
  mesh = sharding.make_mesh(ml_collections.ConfigDict(
      {"data": 1, "spatial": 1}), jax.devices()[:1])
  state = train.TrainState(step=0, params={}, batch_stats={}, opt_state=())
  results = evaluate.evaluate(state, Fixed(), batches, mesh, num_classes=4)
  assert results["num_examples"] == 10
  probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
  scores = np.stack([probs[(video_index == v) & (mask > 0)].mean(0)
                     for v in range(4)])
  assert results["video"]["num_videos"] == 4
  assert results["video"]["top1"] == pytest.approx(
      np.mean(scores.argmax(-1) == np.arange(4)))
  view_top1 = np.mean((logits.argmax(-1) == labels)[mask > 0])
  assert results["top1"] == pytest.approx(view_top1)
