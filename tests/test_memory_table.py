"""video_flax/tools/memory_table.py: what the backward pass keeps."""
from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from video_flax import models
from video_flax.models import model_size
from video_flax.tools import memory_table


class _TwoDense(nn.Module):
  """x [B, 10] -> [B, 4]: its backward keeps x and the hidden layer."""

  @nn.compact
  def __call__(self, x, train: bool = True):
    del train
    return nn.Dense(4)(jnp.sin(nn.Dense(64)(x)))


def test_saved_bytes_are_the_activations_the_backward_needs():
  """Dense(64) -> sin -> Dense(4) on 8 rows keeps x (for the first kernel's
  gradient), cos of the pre-activation (sin's derivative) and sin's output
  (for the second kernel's gradient): 8 x (10 + 64 + 64) floats."""
  import jax  # pylint: disable=g-import-not-at-top
  model = _TwoDense()
  x = jax.ShapeDtypeStruct((8, 10), jnp.float32)
  variables = jax.eval_shape(lambda v: model.init(jax.random.key(0), v), x)
  assert memory_table.saved_for_backward(model, x, variables, 8) == (
      8 * (10 + 64 + 64) * 4)


def test_remat_keeps_only_block_inputs():
  plain = models.build_model("ir_csn_tiny", 12)
  inputs = model_size.example_inputs(plain, (4, 16, 16), 2)
  variables = model_size.abstract_variables(plain, inputs)
  kept = memory_table.saved_for_backward(plain, inputs, variables, 2)
  remat = memory_table.saved_for_backward(plain.clone(remat=True), inputs,
                                          variables, 2)
  assert 0 < remat < kept / 3, (remat, kept)
