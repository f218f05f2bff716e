"""XLA:CPU compile options for video_flax's jitted steps.

This jaxlib's XLA:CPU hands each 2D convolution to YNNPACK by default (the
compiled HLO shows a `__ynn_fusion` around it). On the 2-core AMD EPYC we
develop on, Eigen's convolution (XLA:CPU's other path) runs the 2D convs
that every dense 3D conv form is made of (`dense_conv_forms.py`) at about
twice the speed: 3x3, 64 -> 64 on [64, 56, 56, 64], 152 vs 73 GFLOP/s
forward, 133 vs 58 forward + backward; r3d_18, b4 16x112x112: forward
1.23 -> 1.91 clips/s, training step 0.33 -> 0.44 (docs/conv_speed.md). So
on CPU the library compiles its steps with YNNPACK kept for dots and
reductions (XLA's default less convolutions).

`jit` is `jax.jit` with these options; `compiler_options()` gives them for a
jit of your own (`jax.jit(f, compiler_options=cpu_compile.compiler_options())`).
They are left off (XLA's own default) when:
  - the default backend is not CPU;
  - `XLA_FLAGS` already sets `xla_cpu_experimental_ynn_fusion_type` (yours wins);
  - `VIDEO_FLAX_CPU_CONVS=xla` (the environment's choice: `eigen`, the
    default, or `xla`);
  - this jaxlib does not know the option (checked once, by compiling a no-op).
"""
from __future__ import annotations

import functools
import os
from typing import Any, Callable

import jax
import jax.numpy as jnp

OPTION = "xla_cpu_experimental_ynn_fusion_type"
# XLA's default minus INDIVIDUAL_CONVOLUTION (tests/test_cpu_compile.py
# checks that a model step's YNNPACK fusions are the default's less convs).
NO_CONVS = ("LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,"
            "LIBRARY_FUSION_TYPE_REDUCE")
_CHOICES = ("eigen", "xla")


@functools.cache
def _accepted(option: str, value: str) -> bool:
  """Whether this jaxlib compiles with `option=value`."""
  try:
    jax.jit(lambda x: x + 1, compiler_options={option: value}).lower(
        jnp.zeros((), jnp.float32)).compile()
  except Exception:  # noqa: BLE001  (TypeError on old jax, XlaRuntimeError)
    return False
  return True


def choice() -> str:
  """`VIDEO_FLAX_CPU_CONVS` (default eigen); a ValueError naming a bad one.
  Reads no backend (entry points check it before multi-host setup)."""
  value = os.environ.get("VIDEO_FLAX_CPU_CONVS", "eigen")
  if value not in _CHOICES:
    raise ValueError(f"VIDEO_FLAX_CPU_CONVS={value!r} is not one of "
                     f"{_CHOICES}")
  return value


def compiler_options() -> dict[str, str] | None:
  """The options `jit` adds on this process's default backend, or None."""
  if (choice() == "xla" or jax.default_backend() != "cpu"
      or OPTION in os.environ.get("XLA_FLAGS", "")):
    return None
  return {OPTION: NO_CONVS} if _accepted(OPTION, NO_CONVS) else None


def jit(fun: Callable[..., Any], **kwargs: Any) -> Callable[..., Any]:
  """`jax.jit(fun, **kwargs)` compiled with `compiler_options()` when called
  at top level (JAX takes compile options on top-level jits only; inside
  another trace, e.g. under `jax.eval_shape`, it is a plain jit)."""
  plain = jax.jit(fun, **kwargs)
  options = compiler_options()
  if not options:
    return plain
  tuned = jax.jit(fun, **{**kwargs, "compiler_options": {
      **options, **kwargs.get("compiler_options", {})}})
  return _TopLevelOptions(tuned, plain)


class _TopLevelOptions:
  """A jitted function with compile options at top level, without inside
  another trace; `lower` and the rest are the top-level jit's."""

  def __init__(self, tuned: Any, plain: Any):
    self._tuned, self._plain = tuned, plain
    functools.update_wrapper(self, plain)

  def __call__(self, *args: Any, **kwargs: Any) -> Any:
    if any(isinstance(leaf, jax.core.Tracer)
           for leaf in jax.tree.leaves((args, kwargs))):
      return self._plain(*args, **kwargs)
    try:
      return self._tuned(*args, **kwargs)
    except ValueError as error:  # raised while tracing: nothing ran
      if "compiler_options" not in str(error):
        raise
      return self._plain(*args, **kwargs)

  def __getattr__(self, name: str) -> Any:
    if name.startswith("_"):  # not set yet (copy, pickle): no recursion
      raise AttributeError(name)
    return getattr(self._tuned, name)
