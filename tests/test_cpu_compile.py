"""cpu_compile: the library's CPU steps compile 2D convs without YNNPACK.

Checked on the compiled program (the HLO XLA:CPU runs), not on the options
dict: a conv jitted by `cpu_compile.jit` is not inside a `__ynn_fusion`,
and gives lax's values; the escape hatches leave XLA's default alone.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

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
  if not cpu_compile._accepted(cpu_compile.OPTION, cpu_compile.DOTS_ONLY):
    pytest.skip(f"this jaxlib does not know {cpu_compile.OPTION}")


def test_library_jit_keeps_convs_out_of_ynnpack(accepted, monkeypatch):
  monkeypatch.delenv("VIDEO_FLAX_CPU_CONVS", raising=False)
  monkeypatch.setenv("XLA_FLAGS", "")
  x, w = _inputs()
  assert cpu_compile.compiler_options() == {
      cpu_compile.OPTION: cpu_compile.DOTS_ONLY}
  ours = _compiled_text(cpu_compile.jit(_conv), x, w)
  assert "convolution(" in ours
  assert "__ynn_fusion" not in ours
  default = _compiled_text(jax.jit(_conv), x, w)
  if "__ynn_fusion" not in default:
    pytest.skip("this jaxlib does not send convs to YNNPACK by default")
  np.testing.assert_allclose(cpu_compile.jit(_conv)(x, w), jax.jit(_conv)(x, w),
                             rtol=1e-5, atol=1e-4)
  # Dots keep YNNPACK.
  a = jnp.ones((64, 64))
  assert "__ynn_fusion" in _compiled_text(cpu_compile.jit(jnp.dot), a, a)


def test_caller_options_are_kept(accepted, monkeypatch):
  monkeypatch.setenv("XLA_FLAGS", "")
  x, w = _inputs()
  jitted = cpu_compile.jit(_conv, compiler_options={
      cpu_compile.OPTION: "LIBRARY_FUSION_TYPE_INDIVIDUAL_CONVOLUTION"})
  assert "__ynn_fusion" in _compiled_text(jitted, x, w)


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
