"""3D ResNet family: exact parameter counts, layout, and one step per form."""
from __future__ import annotations

import functools

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from video_flax import models
from video_flax.models import conv_forms, frame2d, resnet3d
from video_flax.models.resnet3d_blocks import r2plus1d_mid_features

# The models this file covers (other families have their own tests).
OWN_MODELS = {**resnet3d.MODELS, **frame2d.MODELS}


def _abstract_variables(model, shape, batch=1):
  x = jnp.zeros((batch, *shape, 3), jnp.float32)
  return jax.eval_shape(
      lambda: model.init({"params": jax.random.key(0)}, x, train=False))


@functools.lru_cache(maxsize=None)
def _built(name):
  """(abstract variables, logits shape) of preset `name` with 400 classes
  on 2 small clips: one trace of init, which runs the forward pass."""
  model = models.build_model(name, 400, dropout_rate=0.5)
  shape = (8, 32, 32) if name.endswith("_tiny") else (4, 32, 32)
  x = jnp.zeros((2, *shape, 3), jnp.float32)
  logits, variables = jax.eval_shape(lambda: model.init_with_output(
      {"params": jax.random.key(0)}, x, train=False))
  return variables, logits.shape


def _param_count(name):
  variables, _ = _built(name)
  return sum(int(np.prod(p.shape))
             for p in jax.tree.leaves(variables["params"]))


# Reference counts: ../shared/docs/reference-numbers.md (from the repo root;
# 400 classes).
EXACT_COUNTS = {
    "ir_csn_152": 29_703_568,
    "ip_csn_152": 33_016_592,
    "ir_csn_101": 22_213_776,
    "r3d_50": 46_980_944,
    "r3d_101": 86_027_088,
    "r3d_152": 118_185_808,
    "r3d_18": 33_371_472,
    "mc3_18": 11_695_440,
    "r2plus1d_18": 31_505_325,
    "r2plus1d_18_paper": 33_370_839,
}


@pytest.mark.parametrize("name,expected", sorted(EXACT_COUNTS.items()))
def test_exact_parameter_count(name, expected):
  assert _param_count(name) == expected


def test_ir_csn_152_without_bn_parameters():
  variables, _ = _built("ir_csn_152")
  flat = flax.traverse_util.flatten_dict(variables["params"])
  no_bn = sum(int(np.prod(v.shape)) for k, v in flat.items()
              if not any(part.startswith("bn") or part.endswith("_bn")
                         for part in k))
  assert no_bn == 29_552_144


def test_r2plus1d_mid_channel_rule():
  # Hand-computed: floor(27 * 64 * 64 / (9 * 64 + 3 * 64)) = 144 (torchvision
  # layer1) and floor(27 * 64 * 128 / (9 * 64 + 3 * 128)) = 230.
  assert r2plus1d_mid_features(64, 64) == 144
  assert r2plus1d_mid_features(64, 128) == 230
  assert r2plus1d_mid_features(3, 64, (3, 7, 7)) == 83


def _init_with_intermediates(model, x):
  return jax.eval_shape(lambda: model.init_with_output(
      {"params": jax.random.key(0)}, x, train=False,
      capture_intermediates=True))


def test_csn_layout_kernels_and_strides():
  model = models.build_model("ir_csn_50", 400)
  logits, variables = _init_with_intermediates(
      model, jnp.zeros((1, 16, 224, 224, 3)))
  params = variables["params"]
  assert params["conv1"]["kernel"].shape == (3, 7, 7, 3, 64)
  depthwise = params["conv3_1"]["conv2"]["conv_dw"]["kernel"]
  assert depthwise.shape == (3, 3, 3, 1, 128)
  assert params["conv2_1"]["proj_conv"]["kernel"].shape == (1, 1, 1, 64, 256)
  assert "proj_conv" not in params["conv2_2"]
  assert params["head"]["kernel"].shape == (2048, 400)
  assert logits.shape == (1, 400)
  # conv1 and pool1 halve H, W; conv3_1..conv5_1 halve T, H, W: T/8 x 7 x 7.
  inter = variables["intermediates"]
  assert inter["conv2_1"]["__call__"][0].shape == (1, 16, 56, 56, 256)
  assert inter["conv3_1"]["__call__"][0].shape == (1, 8, 28, 28, 512)
  assert inter["conv5_3"]["__call__"][0].shape == (1, 2, 7, 7, 2048)


def test_mixed_convolutions_layout():
  p = _built("mc3_18")[0]["params"]
  assert p["conv1"]["kernel"].shape[:3] == (3, 7, 7)
  assert p["conv2_1"]["conv1"]["conv"]["kernel"].shape[:3] == (3, 3, 3)
  assert p["conv3_1"]["conv1"]["conv"]["kernel"].shape[:3] == (1, 3, 3)
  p = _built("rmc3_18")[0]["params"]
  assert p["conv1"]["kernel"].shape[:3] == (1, 7, 7)
  assert p["conv2_1"]["conv1"]["conv"]["kernel"].shape[:3] == (1, 3, 3)
  assert p["conv3_1"]["conv1"]["conv"]["kernel"].shape[:3] == (3, 3, 3)


def test_r2d_folds_time_into_channels():
  variables, _ = _built("r2d_18")  # 4 RGB frames
  assert variables["params"]["conv1"]["kernel"].shape == (1, 7, 7, 12, 64)


def _loss_fn(model, x, labels):
  def loss_fn(params, batch_stats):
    logits, updates = model.apply(
        {"params": params, "batch_stats": batch_stats}, x, train=True,
        mutable=["batch_stats"], rngs={"dropout": jax.random.key(1)})
    loss = -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits),
                                         labels[:, None], axis=1))
    return loss, (logits, updates)
  return loss_fn


def _random_variables(model, x, seed=0):
  """Variables of the right shapes filled from numpy: XLA:CPU compiles a
  random initializer per parameter slowly, and these tests need none."""
  abstract = jax.eval_shape(
      lambda: model.init({"params": jax.random.key(0)}, x, train=False))
  rng = np.random.default_rng(seed)
  flat = flax.traverse_util.flatten_dict(abstract)
  values = {}
  for path, leaf in flat.items():
    if path[0] == "batch_stats":
      value = np.full(leaf.shape, 1.0 if path[-1] == "var" else 0.0)
    elif path[-1] == "scale":
      value = 1.0 + 0.1 * rng.standard_normal(leaf.shape)
    else:
      fan_in = int(np.prod(leaf.shape[:-1])) or 1
      value = rng.standard_normal(leaf.shape) / np.sqrt(fan_in)
    values[path] = jnp.asarray(value, leaf.dtype)
  return flax.traverse_util.unflatten_dict(values)


def _real_step(model, x, labels):
  """One jitted forward + grad in train mode from random variables."""
  variables = _random_variables(model, x)
  (loss, (logits, updates)), grads = jax.jit(
      jax.value_and_grad(_loss_fn(model, x, labels), has_aux=True))(
          variables["params"], variables["batch_stats"])
  grad_sums = [float(jnp.abs(g).sum()) for g in jax.tree.leaves(grads)]
  assert np.isfinite(float(loss)) and all(np.isfinite(grad_sums))
  assert sum(grad_sums) > 0
  # Train mode updated the running statistics.
  changed = jax.tree.map(lambda a, b: bool(jnp.any(a != b)),
                         updates["batch_stats"], variables["batch_stats"])
  assert any(jax.tree.leaves(changed))
  return logits


# Every conv kind, block kind and stem kind of ResNet3D, a few per model
# (one compile each), at reduced width with one block per stage.
_FORMS = {
    "bottleneck_3d_ip_ir_group": dict(
        block="bottleneck", conv_kinds=("3d", "ip", "ir", "group"), groups=2),
    "bottleneck_2plus1d_sep_p3d_ab": dict(
        block="bottleneck", conv_kinds=("2plus1d", "sep", "p3d_a", "p3d_b"),
        stem_kind="2plus1d", mid_rule="torchvision"),
    "bottleneck_p3dc_2d": dict(
        block="bottleneck", conv_kinds=("p3d_c", "2d", "3d", "2d"),
        stem_kind="2d"),
    "simple_3d_2d_ip_ir": dict(
        block="simple", conv_kinds=("3d", "2d", "ip", "ir"), pool1=False),
    "simple_2plus1d_sep_group_folded": dict(
        block="simple", conv_kinds=("2plus1d", "sep", "group", "2d"), groups=2,
        stem_kind="2d", fold_time=True),
}


@pytest.mark.parametrize("form", sorted(_FORMS))
def test_reduced_forms_take_a_step(form, monkeypatch):
  # The model structure is under test here, not the CPU conv rewrites
  # (tests/test_layers.py): the reference convs compile twice as fast.
  monkeypatch.setattr(conv_forms, "FORM", "reference")
  model = resnet3d.ResNet3D(stage_sizes=(1, 1, 1, 1), widths=(4, 4, 8, 8),
                            stem_features=4, stem_mid_features=3,
                            num_classes=3, dropout_rate=0.5, **_FORMS[form])
  x = jax.random.normal(jax.random.key(2), (2, 4, 16, 16, 3))
  assert _real_step(model, x, jnp.array([0, 2])).shape == (2, 3)


def test_tiny_preset_takes_a_step():
  model = models.build_model("ir_csn_tiny", 4, dropout_rate=0.5)
  x = jax.random.normal(jax.random.key(2), (2, 4, 16, 16, 3))
  assert _real_step(model, x, jnp.array([1, 3])).shape == (2, 4)


def _preset_params():
  """Every preset; deep ones whose depth-50 sibling runs the same code and
  which no count test traces anyway run with `-m slow`."""
  for name in sorted(OWN_MODELS):
    deep = name.split("_")[-1] in ("101", "152") or "_101_" in name
    slow = deep and name not in EXACT_COUNTS
    yield pytest.param(name, marks=pytest.mark.slow) if slow else name


@pytest.mark.parametrize("name", _preset_params())
def test_every_preset_builds(name):
  """Traces init and the forward pass of every preset (shapes only)."""
  assert _built(name)[1] == (2, 400)


def _shallow_first():
  """Every preset; tracing the backward pass of depth >= 50 takes seconds
  each, so those run with `-m slow`."""
  for name in sorted(OWN_MODELS):
    depth = next((int(p) for p in name.split("_") if p.isdigit()), 0)
    yield pytest.param(name, marks=pytest.mark.slow) if depth >= 50 else name


@pytest.mark.parametrize("name", _shallow_first())
def test_every_preset_traces_a_training_step(name):
  """Traces a full training step of every preset on 2 tiny clips (train-mode
  forward, backward, new BN statistics; shapes only, no compile); real steps
  of every conv, block and stem form run at reduced width above."""
  variables, logits_shape = _built(name)
  assert logits_shape == (2, 400)
  model = models.build_model(name, 400, dropout_rate=0.5)
  shape = (8, 32, 32) if name.endswith("_tiny") else (4, 32, 32)
  x = jax.ShapeDtypeStruct((2, *shape, 3), jnp.float32)
  loss_and_grad = lambda p, s, x: jax.value_and_grad(  # noqa: E731
      _loss_fn(model, x, jnp.array([0, 1])), has_aux=True)(p, s)
  (loss, (_, updates)), grads = jax.eval_shape(
      loss_and_grad, variables["params"], variables["batch_stats"], x)
  assert loss.shape == ()
  assert jax.tree.structure(grads) == jax.tree.structure(variables["params"])
  assert (jax.tree.structure(updates["batch_stats"])
          == jax.tree.structure(variables["batch_stats"]))


@pytest.mark.parametrize("shape", [(8, 32, 32), (16, 64, 64)])
def test_tiny_csn_builds_on_training_clip_sizes(shape):
  for name in ("ir_csn_tiny", "ip_csn_tiny", "frame2d_tiny"):
    model = models.build_model(name, 10)
    logits, _ = jax.eval_shape(lambda: model.init_with_output(
        {"params": jax.random.key(0)}, jnp.zeros((2, *shape, 3)), train=False))
    assert logits.shape == (2, 10)


def test_zero_init_residual_block_starts_as_identity():
  # With the last BN scale at 0 every block is relu(shortcut); with identity
  # shortcuts the features after conv2_1 equal relu(relu(...)) of its input.
  model = resnet3d.ResNet3D(stage_sizes=(2,), widths=(8,), block="simple",
                            stage_strides=((1, 1, 1),), stem_features=8,
                            num_classes=2)
  x = jax.random.normal(jax.random.key(0), (1, 4, 16, 16, 3))
  # The real initializers; an rbg key compiles them faster than threefry.
  variables = jax.jit(functools.partial(model.init, train=False))(
      jax.random.key(1, impl="unsafe_rbg"), x)
  _, state = jax.jit(functools.partial(
      model.apply, train=False, capture_intermediates=True,
      mutable=["intermediates"]))(variables, x)
  inter = state["intermediates"]
  block_in = inter["conv2_1"]["__call__"][0]
  block_out = inter["conv2_2"]["__call__"][0]
  np.testing.assert_allclose(block_out, block_in, rtol=1e-6)


def test_frame2d_sees_only_the_middle_frame():
  model = models.build_model("frame2d_tiny", 4)
  x = jax.random.normal(jax.random.key(0), (2, 8, 16, 16, 3))
  variables = _random_variables(model, x)
  apply = jax.jit(functools.partial(model.apply, train=False))
  base = apply(variables, x)
  other_frames = x.at[:, :4].set(0.0).at[:, 5:].set(1.0)
  np.testing.assert_allclose(apply(variables, other_frames), base, rtol=1e-6)
  middle_changed = x.at[:, 4].multiply(-1.0)
  assert not np.allclose(apply(variables, middle_changed), base)
  assert "frame2d_tiny" in frame2d.MODELS


def test_bad_arguments_are_named():
  with pytest.raises(ValueError, match="conv kind 'xyz'"):
    _abstract_variables(models.build_model("r3d_50", 4, conv_kinds="xyz"),
                        (4, 32, 32))
  with pytest.raises(ValueError, match="bottleneck blocks only"):
    _abstract_variables(models.build_model("r3d_18", 4, conv_kinds="p3d_a"),
                        (4, 32, 32))
