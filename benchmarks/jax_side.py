"""The video_flax side of the suite: registered models, jitted, on JAX."""
from __future__ import annotations

import functools

import platform
from typing import Any, Callable, Sequence

import flax
import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.protocol import best_seconds
from video_flax import models
from video_flax import variable_init
from video_flax.models import model_size
from video_flax.tools import benchmark

def info() -> dict[str, Any]:
  """Versions and devices of this process."""
  return {"versions": {"jax": jax.__version__, "flax": flax.__version__,
                       "python": platform.python_version()},
          "backend": jax.default_backend(),
          "devices": [d.device_kind for d in jax.devices()]}


def roofline(dtype: str, size: int, calls: int) -> float:
  """Seconds of the fastest [size, size] x [size, size] matmul of `dtype`
  inputs, summed in at least f32 (as torch's bf16 matmul does inside; on
  XLA:CPU a bf16 -> bf16 dot runs at about half the bf16 -> f32 rate, below
  f32's)."""
  rng = np.random.default_rng(0)
  a, b = (jnp.asarray(rng.standard_normal((size, size), np.float32),
                      jnp.dtype(dtype)) for _ in range(2))
  accumulate = jnp.promote_types(dtype, jnp.float32)
  matmul = jax.jit(functools.partial(jnp.matmul,
                                     preferred_element_type=accumulate))
  jax.block_until_ready(matmul(a, b))
  return best(lambda: matmul(a, b), calls)


def best(fn: Callable[[], Any], calls: int) -> float:
  """Seconds of the fastest of `calls` calls of `fn`, waiting for results."""
  return best_seconds(lambda: jax.block_until_ready(fn()), calls)


def describe(model: str, shape: Sequence[int] | None) -> dict[str, Any]:
  """The clip size (`shape`, or the model's paper clip when None) and the
  multiply-accumulates of one clip's forward pass (the f32 model)."""
  shape = tuple(shape) if shape else models.MODELS[model].reference_shape
  macs = model_size.count_macs(models.build_model(model, 400), shape)
  return {"shape": shape, "macs": float(macs)}


def setup(model: str, shape: Sequence[int], batch: int, dtype: str,
          task: str) -> Callable[[], Any]:
  """Builds `model` in compute dtype `dtype`; returns the compiled `task`."""
  net = models.build_model(model, 400, dtype=jnp.dtype(dtype))
  inputs = benchmark.random_inputs(net, shape, batch, jax.random.key(1))
  variables = variable_init.random_variables(net, inputs)
  if task == "forward":
    run = benchmark.forward_runner(net, variables, inputs)
  else:
    run = benchmark.train_step_runner(net, variables, inputs, 400)
  jax.block_until_ready(run())
  return run


HANDLERS = {"info": info, "roofline": roofline, "describe": describe,
            "setup": setup}
