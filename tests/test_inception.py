"""Inception-V1 / I3D / S3D: exact parameter counts, padding, shapes."""
from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from video_flax.models import inception
from video_flax.models import layers
from video_flax.models import s3d


def abstract_variables(model, shape):
  x = jax.ShapeDtypeStruct(shape, jnp.float32)
  return jax.eval_shape(
      lambda x: model.init({"params": jax.random.key(0)}, x, train=False), x)


def num_params(model, shape) -> int:
  return sum(v.size for v in
             jax.tree.leaves(abstract_variables(model, shape)["params"]))


@pytest.mark.parametrize("name,channels,expected", [
    ("i3d_rgb", 3, 12_689_984),
    ("i3d_flow", 2, 12_668_032),
])
def test_i3d_parameter_count_matches_public_release(name, channels, expected):
  model = inception.MODELS[name](num_classes=400)
  assert num_params(model, (1, 64, 224, 224, channels)) == expected


def test_i3d_scaled_bn_adds_one_parameter_per_bn_channel():
  shape = (1, 64, 224, 224, 3)
  plain = abstract_variables(inception.InceptionV1(400), shape)
  scaled = num_params(inception.InceptionV1(400, bn_scale=True), shape)
  bn_channels = sum(v.size for v in jax.tree.leaves(plain["batch_stats"])) // 2
  assert scaled == 12_689_984 + bn_channels


def test_s3d_parameter_count_matches_torchvision():
  model = s3d.MODELS["s3d"](num_classes=400)
  assert num_params(model, (1, 16, 224, 224, 3)) == 8_320_048


def test_s3d_g_adds_one_gate_per_branch_and_after_conv_2c():
  shape = (1, 16, 224, 224, 3)
  gated = num_params(s3d.MODELS["s3d_g"](num_classes=400), shape)
  branch_widths = [w for _, widths in
                   (b for stage in inception.INCEPTION_V1_STAGES for b in stage)
                   for w in (widths[0], widths[2], widths[4], widths[5])]
  gates = sum(c * c + c for c in [192] + branch_widths)
  assert gated == 8_320_048 + gates


def test_2d_inception_v1_has_image_kernels_and_imagenet_size():
  model = inception.MODELS["inception_v1_2d"](num_classes=1000)
  variables = abstract_variables(model, (1, 1, 224, 224, 3))
  kernel = variables["params"]["backbone"]["Conv_1a_7x7"]["conv"]["kernel"]
  assert kernel.shape == (7, 7, 3, 64)
  # TF-slim's Inception-V1 (BN without scale, 3x3 in branch 2) has 6,617,624
  # parameters with 1000 logits (6,618,649 with its 1001).
  assert num_params(model, (1, 1, 224, 224, 3)) == 6_617_624


def test_i3d_64_frames_give_7_logit_steps_and_feature_grid():
  model = inception.MODELS["i3d_rgb"](num_classes=400)
  x = jax.ShapeDtypeStruct((2, 64, 224, 224, 3), jnp.float32)
  variables = abstract_variables(model, x.shape)
  logits, state = jax.eval_shape(
      lambda v, x: model.apply(v, x, train=False, mutable=["intermediates"]),
      variables, x)
  assert logits.shape == (2, 400)
  assert state["intermediates"]["head"]["features"][0].shape == (2, 7, 1024)


@pytest.mark.parametrize("n,k,s", [(224, 7, 2), (112, 3, 2), (56, 3, 1),
                                   (7, 2, 2), (1, 2, 2), (15, 3, 2), (9, 7, 2)])
def test_same_padding_gives_ceil_output_and_smaller_half_first(n, k, s):
  (before, after), = inception.same_padding([n], [k], [s])
  assert (n + before + after - k) // s + 1 == math.ceil(n / s)
  assert before == (before + after) // 2


def test_same_padding_equals_xla_same_for_conv_and_pool():
  # XLA's "SAME" follows TF: ceil(n / s) outputs, the smaller half first.
  x = jax.random.normal(jax.random.key(0), (1, 9, 10, 11, 2))
  kernel = jax.random.normal(jax.random.key(1), (3, 7, 4, 2, 3))
  strides = (2, 2, 3)
  explicit = layers.conv3d(
      x, kernel, strides, inception.same_padding(x.shape[1:4], (3, 7, 4),
                                                 strides))
  tf_same = jax.lax.conv_general_dilated(
      x, kernel, strides, "SAME", dimension_numbers=("NTHWC", "THWIO", "NTHWC"))
  np.testing.assert_allclose(explicit, tf_same, rtol=1e-5, atol=1e-5)
  pooled = inception.max_pool(x, (3, 3, 2), (2, 2, 2), mode="same")
  np.testing.assert_array_equal(
      pooled, nn.max_pool(x, (3, 3, 2), (2, 2, 2), padding="SAME"))


def test_blocks_per_stage_is_validated():
  model = inception.InceptionV1(5, blocks_per_stage=(1, 6, 1))
  with pytest.raises(ValueError, match="blocks_per_stage"):
    abstract_variables(model, (1, 8, 32, 32, 3))
