"""cpu_compile: the library's CPU steps compile 2D convs without YNNPACK.

Checked on the compiled program (the HLO XLA:CPU runs), not on the options
dict: a conv jitted by `cpu_compile.jit` is not inside a `__ynn_fusion`,
and gives lax's values; the escape hatches leave XLA's default alone.
"""
from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from video_flax import models
from video_flax import variable_init
from video_flax.models import cpu_compile


def _conv(x, w):
  return lax.conv_general_dilated(x, w, (1, 1), "SAME",
                                  dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _inputs():
  # 32 -> 32 channels: this jaxlib leaves narrower convs to Eigen anyway.
  rng = np.random.default_rng(0)
  return (jnp.asarray(rng.standard_normal((2, 12, 12, 32)), jnp.float32),
          jnp.asarray(rng.standard_normal((3, 3, 32, 32)), jnp.float32))


def _compiled_text(jitted, *args) -> str:
  return jitted.lower(*args).compile().as_text()


@pytest.fixture
def accepted():
  if not cpu_compile._accepted(cpu_compile.OPTION, cpu_compile.NO_CONVS):
    pytest.skip(f"this jaxlib does not know {cpu_compile.OPTION}")


def test_library_jit_keeps_convs_out_of_ynnpack(accepted, monkeypatch):
  monkeypatch.delenv("VIDEO_FLAX_CPU_CONVS", raising=False)
  monkeypatch.setenv("XLA_FLAGS", "")
  x, w = _inputs()
  assert cpu_compile.compiler_options() == {
      cpu_compile.OPTION: cpu_compile.NO_CONVS}
  ours = _compiled_text(cpu_compile.jit(_conv), x, w)
  assert "convolution(" in ours
  assert "__ynn_fusion" not in ours
  default = _compiled_text(jax.jit(_conv), x, w)
  if "__ynn_fusion" not in default:
    pytest.skip("this jaxlib does not send convs to YNNPACK by default")
  np.testing.assert_allclose(cpu_compile.jit(_conv)(x, w), jax.jit(_conv)(x, w),
                             rtol=1e-5, atol=1e-4)


def _ynn_ops(text: str) -> set[str]:
  """Op names inside the compiled program's YNNPACK fusions."""
  computations = {c.split(" ", 1)[0]: c for c in re.split(r"\n(?=\S)", text)}
  ops = set()
  for name in re.findall(r'calls=(%[\w.\-]+), .*?"kind":"__ynn_fusion"', text):
    ops.update(re.findall(r"= \S+ (\w+)\(", computations[name]))
  return ops


def test_only_convs_leave_ynnpack_in_a_model_step(accepted, monkeypatch):
  """Everything else XLA sends to YNNPACK by default (dots, reductions) stays
  there: dropping the reductions halved ir_csn_tiny's training step."""
  monkeypatch.setenv("XLA_FLAGS", "")
  net = models.build_model("ir_csn_tiny", 12)
  x = jnp.zeros((2, 4, 16, 16, 3))
  variables = variable_init.random_variables(net, x)

  def grads(params, x):
    def loss(p):
      logits, _ = net.apply({"params": p, "batch_stats": variables[
          "batch_stats"]}, x, train=True, mutable=["batch_stats"])
      return jnp.sum(logits ** 2)
    return jax.grad(loss)(params)

  args = (variables["params"], x)
  default = _ynn_ops(_compiled_text(jax.jit(grads), *args))
  ours = _ynn_ops(_compiled_text(cpu_compile.jit(grads), *args))
  assert {"dot", "reduce"} <= ours
  assert ours == default - {"convolution"}


def test_caller_options_are_kept(accepted, monkeypatch):
  monkeypatch.setenv("XLA_FLAGS", "")
  x, w = _inputs()
  jitted = cpu_compile.jit(_conv, compiler_options={
      cpu_compile.OPTION: "LIBRARY_FUSION_TYPE_INDIVIDUAL_CONVOLUTION"})
  assert "__ynn_fusion" in _compiled_text(jitted, x, w)


def test_library_jit_works_inside_another_trace(accepted, monkeypatch):
  """JAX refuses compile options on a nested jit: inside eval_shape or an
  outer jit (create_train_state under eval_shape) the library's jit is plain."""
  monkeypatch.setenv("XLA_FLAGS", "")
  x, w = _inputs()
  inner = cpu_compile.jit(_conv)
  expected = jax.jit(_conv)(x, w)
  assert jax.eval_shape(lambda: inner(x, w)).shape == expected.shape
  assert jax.eval_shape(inner, x, w).shape == expected.shape
  np.testing.assert_allclose(jax.jit(inner)(x, w), expected, rtol=1e-5,
                             atol=1e-4)
  assert "__ynn_fusion" not in _compiled_text(inner, x, w)


@pytest.mark.parametrize("env", [
    {"VIDEO_FLAX_CPU_CONVS": "xla"},
    {"XLA_FLAGS": f"--{cpu_compile.OPTION}=individual_dot"},
])
def test_escape_hatches_leave_xla_default(monkeypatch, env):
  monkeypatch.setenv("XLA_FLAGS", "")
  for key, value in env.items():
    monkeypatch.setenv(key, value)
  assert cpu_compile.compiler_options() is None


def test_bad_choice_is_named(monkeypatch):
  monkeypatch.setenv("VIDEO_FLAX_CPU_CONVS", "mkl")
  with pytest.raises(ValueError, match="VIDEO_FLAX_CPU_CONVS='mkl'"):
    cpu_compile.jit(_conv)
