"""Model variables of the right shapes without running the initialisers.

XLA:CPU compiles a model's random initialisers slowly (a second or more per
parameter tensor), so speed measurements and tests that need any
well-scaled weights fill the abstract shapes from numpy instead.
"""
from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from video_flax.models import model_size


def random_variables(model: nn.Module, inputs: Any, seed: int = 0) -> Any:
  """Variables of the model's shapes filled from numpy, scaled like He init.

  Speed does not depend on the values, and XLA:CPU compiles the model's
  random initializers slowly (a second or more per parameter tensor).
  """
  abstract = model_size.abstract_variables(model, inputs)
  rng = np.random.default_rng(seed)

  def fill(path, leaf):
    last = getattr(path[-1], "key", None)
    if last == "var" or last == "scale":
      return jnp.ones(leaf.shape, leaf.dtype)
    if last in ("mean", "bias"):
      return jnp.zeros(leaf.shape, leaf.dtype)
    fan_in = max(math.prod(leaf.shape[:-1]), 1)
    value = rng.standard_normal(leaf.shape, np.float32) * np.sqrt(2 / fan_in)
    return jnp.asarray(value, leaf.dtype)

  return jax.tree_util.tree_map_with_path(fill, abstract)
