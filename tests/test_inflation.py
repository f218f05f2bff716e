"""Filter inflation: kernel numerics, loud mismatches, the boring-video test."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from video_flax import inflation
from video_flax.models import inception

# Full depth (the code path of the paper's I3D) at 1/8 width.
NARROW = {"width": 0.125, "min_width": 8}


def abstract_variables(model, x):
  return jax.eval_shape(
      lambda x: model.init({"params": jax.random.key(0)}, x, train=False), x)


def random_variables(abstract, seed: int):
  """He-scaled kernels; random biases, BN offsets and BN statistics."""
  rng = np.random.default_rng(seed)

  def leaf(path, s):
    name = jax.tree_util.keystr(path)
    if "var" in name:
      return rng.uniform(0.5, 1.5, s.shape).astype(np.float32)
    if len(s.shape) == 1:
      return (0.2 * rng.standard_normal(s.shape)).astype(np.float32)
    fan_in = np.prod(s.shape[:-1])
    return (rng.standard_normal(s.shape) * np.sqrt(2 / fan_in)).astype(np.float32)

  return jax.tree_util.tree_map_with_path(leaf, abstract)


def test_inflate_conv_kernel_repeats_over_time_and_divides():
  kernel = np.random.default_rng(0).standard_normal((3, 5, 4, 6))
  inflated = np.asarray(inflation.inflate_conv_kernel(kernel, 7))
  assert inflated.shape == (7, 3, 5, 4, 6)
  for t in range(7):
    np.testing.assert_allclose(inflated[t], kernel / 7, rtol=1e-6)
  with pytest.raises(ValueError, match=r"\(3, 5, 4\)"):
    inflation.inflate_conv_kernel(kernel[..., 0], 3)


def _features(model):
  """Jitted (variables, video) -> pooled features [B, T'', C] before logits."""
  def apply(variables, x):
    _, state = model.apply(variables, x, train=False, mutable=["intermediates"])
    return state["intermediates"]["head"]["features"][0]
  return jax.jit(apply)


def test_boring_video_inflated_i3d_equals_2d_network():
  """I3D inflated from a random 2D Inception-V1 (random BN statistics too)
  gives, on one image repeated, the 2D network's pooled features.

  Zero temporal padding changes every conv whose window reaches past the
  clip, and I3D's temporal receptive field is 107 frames, so on 64 frames no
  output step is free of it. On 128 frames, output steps 6, 7 and 8 of 15
  never see padding (TF "SAME" offsets included): they must match to float
  tolerance, while steps near the ends must not. Inflating without dividing
  by the temporal size must break the match.
  """
  model_2d = inception.InceptionV1(5, temporal=False, **NARROW)
  model_3d = inception.InceptionV1(5, temporal=True, **NARROW)
  image = jax.random.normal(jax.random.key(0), (1, 1, 32, 32, 3))
  video = jnp.repeat(image, 128, axis=1)
  variables_2d = random_variables(abstract_variables(model_2d, image), seed=1)
  variables_3d = inflation.inflate_variables(
      variables_2d, abstract_variables(model_3d, video))

  expected = _features(model_2d)(variables_2d, image)[:, 0]
  features_3d = _features(model_3d)
  got = features_3d(variables_3d, video)
  assert got.shape == (1, 15, expected.shape[-1])
  scale = float(jnp.max(jnp.abs(expected)))
  assert scale > 1.0
  error = np.asarray(jnp.max(jnp.abs(got - expected[:, None]), axis=(0, 2)))
  np.testing.assert_array_less(error[6:9], 1e-5 * scale)
  assert error[0] > 1e-3 * scale and error[-1] > 1e-3 * scale

  undivided = jax.tree.map(
      lambda v: v * v.shape[0] if v.ndim == 5 else v, variables_3d)
  wrong = features_3d(undivided, video)
  assert float(jnp.max(jnp.abs(wrong[:, 6:9] - expected[:, None]))) > 1e-2 * scale


def _tiny_pair():
  model_2d = inception.InceptionV1(5, temporal=False, width=0.125,
                                   blocks_per_stage=(1, 1, 1))
  model_3d = inception.InceptionV1(5, temporal=True, width=0.125,
                                   blocks_per_stage=(1, 1, 1))
  image = jax.ShapeDtypeStruct((1, 1, 32, 32, 3), jnp.float32)
  video = jax.ShapeDtypeStruct((1, 8, 32, 32, 3), jnp.float32)
  variables_2d = random_variables(abstract_variables(model_2d, image), seed=0)
  return model_3d, variables_2d, abstract_variables(model_3d, video)


def test_inflate_variables_copies_bn_and_inflates_kernels_to_target_sizes():
  _, variables_2d, target = _tiny_pair()
  out = inflation.inflate_variables(variables_2d, target)
  assert jax.tree.structure(out) == jax.tree.structure(target)
  stem_2d = variables_2d["params"]["backbone"]["Conv_1a_7x7"]["conv"]["kernel"]
  stem_3d = out["params"]["backbone"]["Conv_1a_7x7"]["conv"]["kernel"]
  assert stem_3d.shape == (7, *stem_2d.shape)
  np.testing.assert_allclose(np.sum(stem_3d, axis=0), stem_2d, rtol=1e-5)
  mean_2d = variables_2d["batch_stats"]["backbone"]["Mixed_3b"]["b1_3x3"]["bn"]["mean"]
  mean_3d = out["batch_stats"]["backbone"]["Mixed_3b"]["b1_3x3"]["bn"]["mean"]
  np.testing.assert_array_equal(mean_3d, mean_2d)


def test_inflate_variables_names_every_mismatch_with_shapes():
  _, variables_2d, target = _tiny_pair()
  params = variables_2d["params"]["backbone"]
  del params["Mixed_4b"]["b0_1x1"]["conv"]["kernel"]
  params["Mixed_3b"]["extra"] = {"kernel": np.zeros((2, 2))}
  params["Conv_2b_1x1"]["conv"]["kernel"] = np.zeros((1, 1, 8, 9))
  with pytest.raises(ValueError) as error:
    inflation.inflate_variables(variables_2d, target)
  message = str(error.value)
  assert "missing in the 2D tree (1)" in message
  assert "params/backbone/Mixed_4b/b0_1x1/conv/kernel (1, 1, 1, 40, 24)" in message
  assert "unexpected in the 2D tree (1)" in message
  assert "params/backbone/Mixed_3b/extra/kernel (2, 2)" in message
  assert ("params/backbone/Conv_2b_1x1/conv/kernel: 2D (1, 1, 8, 9) vs 3D "
          "(1, 1, 1, 8, 8)") in message


def test_inflate_variables_excluded_head_keeps_target_values():
  model_3d, variables_2d, target = _tiny_pair()
  variables_2d["params"]["head"]["conv"]["kernel"] = np.zeros((1, 1, 104, 400))
  variables_2d["params"]["head"]["conv"]["bias"] = np.zeros((400,))
  with pytest.raises(ValueError, match="abstract"):
    inflation.inflate_variables(variables_2d, target, exclude=["params/head"])
  concrete = random_variables(target, seed=3)
  out = inflation.inflate_variables(variables_2d, concrete,
                                    exclude=["params/head"])
  np.testing.assert_array_equal(out["params"]["head"]["conv"]["kernel"],
                                concrete["params"]["head"]["conv"]["kernel"])
  assert out["params"]["head"]["conv"]["kernel"].shape == (1, 1, 1, 104, 5)
