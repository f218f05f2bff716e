"""The Quo Vadis models: Table 1 counts, input handling, one training step."""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from video_flax import models
from video_flax.models import lstm
from video_flax.models import two_stream
from video_flax.tools import table1

K = 5


def abstract_variables(model, inputs):
  return jax.eval_shape(
      lambda x: model.init({"params": jax.random.key(0)}, x, train=False),
      inputs)


def random_variables(abstract, seed: int = 0):
  """He-scaled weights, small random biases, positive variances (no jit'd
  init: compiling flax's random initialisers costs more than the step)."""
  rng = np.random.default_rng(seed)

  def leaf(path, s):
    if "var" in jax.tree_util.keystr(path):
      return rng.uniform(0.5, 1.5, s.shape).astype(np.float32)
    if len(s.shape) == 1:
      return (0.1 * rng.standard_normal(s.shape)).astype(np.float32)
    scale = np.sqrt(2 / np.prod(s.shape[:-1]))
    return (scale * rng.standard_normal(s.shape)).astype(np.float32)

  return jax.tree_util.tree_map_with_path(leaf, abstract)


def test_table1_counts_match_paper_and_independent_formulas():
  """Each count rebuilt from layer sizes, and within 1M of the paper's."""
  counts = {name: table1.count_params(name, inputs)
            for _, name, inputs, _, _ in table1.TABLE1}
  i3d_rgb, i3d_flow = 12_689_984, 12_668_032
  # 2D Inception-V1 with 400 logits (the RGB I3D's 2D form): the inflated
  # kernels lose their temporal sizes; a 20-channel flow stem adds 7*7*17*64.
  inception_2d = 6_002_624
  logits = 1024 * 400 + 400
  flow_stem_extra = 7 * 7 * (20 - 3) * 64
  lstm = 1024 * 2048 + 512 * 2048 + 2 * 2048  # W_x, W_h, BN scale and offset
  c3d_convs = [(3, 64), (64, 128), (128, 256), (256, 256), (256, 512),
               (512, 512), (512, 512), (512, 512)]
  c3d = (sum(27 * a * b + 2 * b for a, b in c3d_convs)
         + 8192 * 4096 + 4096 * 4096 + 2 * 2 * 4096 + 4096 * 400 + 400)
  assert counts == {
      "convnet_lstm": inception_2d - logits + lstm + 512 * 400 + 400,
      "c3d_bn": c3d,
      "two_stream_late_fusion": 2 * inception_2d + flow_stem_extra,
      "two_stream_3d_fused": (2 * (inception_2d - logits) + flow_stem_extra
                              + 27 * 2048 * 512 + 512 + 512 * 400 + 400),
      "two_stream_i3d": i3d_rgb + i3d_flow,
  }
  for _, name, _, paper, _ in table1.TABLE1:
    assert abs(counts[name] / 1e6 - float(paper[:-1])) < 1.0, name


def test_stack_flow_puts_consecutive_frames_on_channels():
  flow = jnp.arange(2 * 6 * 1 * 1 * 2, dtype=jnp.float32).reshape(2, 6, 1, 1, 2)
  stacked = two_stream.stack_flow(flow, 3)
  assert stacked.shape == (2, 2, 1, 1, 6)
  np.testing.assert_array_equal(stacked[1, 1, 0, 0],
                                flow[1, 3:6, 0, 0].reshape(-1))
  with pytest.raises(ValueError, match="flow_stack=4"):
    two_stream.stack_flow(flow, 4)


def test_snippet_frames_accepts_one_per_snippet_or_every_frame():
  video = jnp.arange(8, dtype=jnp.float32).reshape(1, 8, 1, 1, 1)
  np.testing.assert_array_equal(
      two_stream.snippet_frames(video, 2, 4)[0, :, 0, 0, 0], [2, 6])
  assert two_stream.snippet_frames(video[:, :2], 2, 4).shape[1] == 2
  with pytest.raises(ValueError, match="must have 2"):
    two_stream.snippet_frames(video[:, :3], 2, 4)


# (registry name, per-example input shapes, train logits shape after B).
TINY_MODELS = [
    ("inception_v1_2d_tiny", {"video": (1, 32, 32, 3)}, (K,)),
    ("i3d_rgb_tiny", {"video": (8, 32, 32, 3)}, (K,)),
    ("i3d_flow_tiny", {"flow": (8, 32, 32, 2)}, (K,)),
    ("s3d_tiny", {"video": (8, 32, 32, 3)}, (K,)),
    ("s3d_g_tiny", {"video": (8, 32, 32, 3)}, (K,)),
    ("c3d_bn_tiny", {"video": (8, 32, 32, 3)}, (K,)),
    ("convnet_lstm_tiny", {"video": (4, 32, 32, 3)}, (4, K)),
    ("two_stream_late_fusion_tiny",
     {"video": (1, 32, 32, 3), "flow": (4, 32, 32, 2)}, (2, K)),
    ("two_stream_3d_fused_tiny",
     {"video": (8, 32, 32, 3), "flow": (8, 32, 32, 2)}, (K,)),
    ("two_stream_i3d_tiny",
     {"video": (8, 32, 32, 3), "flow": (8, 32, 32, 2)}, (2, K)),
]


def _batch(model, shapes):
  keys = models.input_keys(model)
  assert set(keys) == set(shapes)
  rng = np.random.default_rng(0)
  batch = {k: jnp.asarray(rng.standard_normal((2, *s)), jnp.float32)
           for k, s in shapes.items()}
  return batch[keys[0]] if len(keys) == 1 else batch


def _loss_and_grad(model, labels):
  """(params, batch_stats, inputs) -> ((mean cross-entropy, train logits),
  grads)."""
  def loss_fn(params, batch_stats, x):
    logits, _ = model.apply({"params": params, "batch_stats": batch_stats}, x,
                            train=True, mutable=["batch_stats"],
                            rngs={"dropout": jax.random.key(0)})
    targets = jnp.broadcast_to(
        labels.reshape(-1, *(1,) * (logits.ndim - 2)), logits.shape[:-1])
    return optax.softmax_cross_entropy_with_integer_labels(
        logits, targets).mean(), logits
  return jax.value_and_grad(loss_fn, has_aux=True)


@pytest.mark.parametrize("name,shapes,train_logits", TINY_MODELS,
                         ids=[m[0] for m in TINY_MODELS])
def test_tiny_model_forward_and_grad_shapes(name, shapes, train_logits):
  """Traced, not compiled, in bfloat16 compute: train and eval outputs, a
  float32 gradient per float32 parameter."""
  model = models.build_model(name, K, dtype=jnp.bfloat16)
  inputs = _batch(model, shapes)
  variables = abstract_variables(model, inputs)
  (loss, logits), grads = jax.eval_shape(
      _loss_and_grad(model, jnp.array([1, 3])), variables["params"],
      variables["batch_stats"], inputs)
  assert loss.shape == () and logits.shape == (2, *train_logits)
  assert logits.dtype == jnp.bfloat16
  assert jax.tree.structure(grads) == jax.tree.structure(variables["params"])
  assert {g.dtype for g in jax.tree.leaves(grads)} == {jnp.dtype("float32")}
  eval_logits = jax.eval_shape(
      lambda v, x: model.apply(v, x, train=False), variables, inputs)
  assert eval_logits.shape == (2, K)


# Compiling a training step costs 5-15 s of CPU per model (the number of
# layers counts, not their width); the fast suite compiles C3D's (3D convs,
# pools, BN after convs and fc). The others are traced above and stepped
# with `pytest -m slow`.
_STEPPED_IN_FAST_SUITE = ("c3d_bn_tiny",)


@pytest.mark.parametrize(
    "name,shapes,train_logits",
    [pytest.param(*m, id=m[0], marks=() if m[0] in _STEPPED_IN_FAST_SUITE
                  else pytest.mark.slow) for m in TINY_MODELS])
def test_tiny_model_trains_one_step(name, shapes, train_logits):
  """A small step along the gradient lowers the loss on the same batch."""
  model = models.build_model(name, K, dropout_rate=0.0)
  inputs = _batch(model, shapes)
  variables = random_variables(abstract_variables(model, inputs))
  loss_and_grad = jax.jit(functools.partial(
      _loss_and_grad(model, jnp.array([1, 3])),
      batch_stats=variables["batch_stats"], x=inputs))
  (loss, logits), grads = loss_and_grad(variables["params"])
  assert logits.shape == (2, *train_logits)
  squared = sum(float(jnp.sum(g ** 2)) for g in jax.tree.leaves(grads))
  assert np.isfinite(float(loss)) and np.isfinite(squared) and squared > 0
  # First order, this step lowers the loss by 1%.
  step = 0.01 * float(loss) / squared
  params = jax.tree.map(lambda p, g: p - step * g, variables["params"], grads)
  (new_loss, _), _ = loss_and_grad(params)
  assert float(new_loss) < float(loss)


def _sigmoid(x):
  return 1 / (1 + np.exp(-x))


def test_batch_norm_lstm_matches_numpy_reference():
  """Eval mode against a plain loop; train mode normalises over B and T."""
  b, t, d, h = 2, 5, 6, 4
  module = lstm.BatchNormLSTM(h)
  x = np.random.default_rng(0).standard_normal((b, t, d)).astype(np.float32)
  variables = random_variables(abstract_variables(module, x), seed=1)
  p, stats = variables["params"], variables["batch_stats"]["input_bn"]
  got = module.apply(variables, x, train=False)

  proj = x @ p["input"]["kernel"]
  gates_x = ((proj - stats["mean"]) / np.sqrt(stats["var"] + 1e-3)
             * p["input_bn"]["scale"] + p["input_bn"]["bias"])
  hid, cell, expected = np.zeros((b, h)), np.zeros((b, h)), []
  for step in range(t):
    i, f, g, o = np.split(gates_x[:, step] + hid @ p["recurrent"], 4, axis=-1)
    cell = _sigmoid(f) * cell + _sigmoid(i) * np.tanh(g)
    hid = _sigmoid(o) * np.tanh(cell)
    expected.append(hid)
  np.testing.assert_allclose(got, np.stack(expected, axis=1), rtol=1e-4,
                             atol=1e-5)

  _, updated = module.apply(variables, x, train=True, mutable=["batch_stats"])
  np.testing.assert_allclose(
      updated["batch_stats"]["input_bn"]["mean"],
      0.9 * stats["mean"] + 0.1 * proj.reshape(b * t, -1).mean(axis=0),
      rtol=1e-4, atol=1e-5)


def _moving_square_clips(rng, n: int, frames: int = 8, size: int = 32):
  """A bright 8x8 square moving 2 px/frame right, left, down or up (the
  label) over static noise, wrapping around: one frame says nothing."""
  steps = np.array([(0, 2), (0, -2), (2, 0), (-2, 0)])
  labels = rng.integers(0, 4, n)
  clips = np.repeat(rng.uniform(-0.3, 0.3, (n, 1, size, size, 1)), frames, 1)
  clips = np.repeat(clips, 3, axis=-1).astype(np.float32)
  for i in range(n):
    start = rng.integers(0, size, 2)
    for t in range(frames):
      r, c = (start + steps[labels[i]] * t) % size
      rows, cols = (np.arange(8) + r) % size, (np.arange(8) + c) % size
      clips[i, t, rows[:, None], cols] = rng.uniform(0.5, 1.0)
  return jnp.asarray(clips), jnp.asarray(labels)


def _motion_accuracy(name: str, train_steps: int = 100) -> float:
  """Held-out accuracy (batch-statistics BN) after SGD on moving squares."""
  model = models.build_model(name, 4, dropout_rate=0.0)
  rng = np.random.default_rng(0)
  x, _ = _moving_square_clips(rng, 16)
  variables = random_variables(abstract_variables(model, x))
  params = jax.tree_util.tree_map_with_path(  # BN scales 1, biases 0
      lambda p, v: v if v.ndim > 1 else np.full_like(
          v, "scale" in jax.tree_util.keystr(p)), variables["params"])
  tx = optax.sgd(optax.warmup_cosine_decay_schedule(0, 0.1, 20, train_steps),
                 momentum=0.9)

  def forward(params, batch_stats, x):
    logits, updates = model.apply({"params": params, "batch_stats": batch_stats},
                                  x, train=True, mutable=["batch_stats"])
    return logits, updates["batch_stats"]

  @jax.jit
  def step(params, batch_stats, opt_state, x, y):
    def loss_fn(params):
      logits, new_stats = forward(params, batch_stats, x)
      return optax.softmax_cross_entropy_with_integer_labels(
          logits, y).mean(), new_stats
    (_, batch_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), batch_stats, opt_state

  batch_stats, opt_state = variables["batch_stats"], tx.init(params)
  for _ in range(train_steps):
    params, batch_stats, opt_state = step(params, batch_stats, opt_state,
                                          *_moving_square_clips(rng, 16))
  x, y = _moving_square_clips(rng, 128)
  logits, _ = jax.jit(forward)(params, batch_stats, x)
  return float(jnp.mean(jnp.argmax(logits, -1) == y))


@pytest.mark.slow
def test_i3d_learns_motion_that_the_2d_network_cannot_see():
  """The paper's story on a toy task: a 3D network learns the direction of
  motion in 100 steps; the same Inception-V1 in 2D, averaging its per-frame
  scores, stays at chance (1/4)."""
  assert _motion_accuracy("i3d_rgb_tiny") > 0.9
  assert _motion_accuracy("inception_v1_2d_tiny") < 0.4
