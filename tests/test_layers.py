"""Conv layer functions: the fast XLA:CPU forms equal lax.conv_general_dilated.

Values and gradients (wrt x and kernel) of `layers.conv3d` /
`layers.depthwise_conv3d` with the fast forms forced on are checked against
`lax.conv_general_dilated` over kernel sizes, strides, paddings (symmetric,
explicit, asymmetric, negative), odd and even sizes, and groups, under jit.
The default run covers every form and option once; `-m slow` adds more of
the grid.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from conftest import run_python
from video_flax.models import conv_forms
from video_flax.models import dense_conv_forms
from video_flax.models import layers

_DN = ("NTHWC", "THWIO", "NTHWC")


@pytest.fixture
def form():
  """Sets conv_forms.FORM for one test and restores it afterwards."""
  previous = conv_forms.FORM

  def set_form(value: str) -> None:
    conv_forms.FORM = value

  yield set_form
  conv_forms.FORM = previous


def _reference(x, kernel, strides, padding, groups):
  if padding is None:
    padding = layers.symmetric_padding(kernel.shape[:3])
  return lax.conv_general_dilated(x, kernel, strides, padding,
                                  dimension_numbers=_DN,
                                  feature_group_count=groups)


def _values_and_grads(conv, x, kernel, dy):
  """conv(x, kernel) and its vjp with cotangent dy, all under one jit."""
  def run(x, kernel, dy):
    y, vjp = jax.vjp(conv, x, kernel)
    return (y, *vjp(dy))
  return jax.jit(run)(x, kernel, dy)


def _check_against_reference(x_shape, kernel_size, c_out, strides, padding,
                             groups, fast):
  rng = np.random.default_rng(sum(x_shape) + sum(kernel_size) + c_out + groups)
  x = jnp.asarray(rng.standard_normal(x_shape), jnp.float32)
  kernel = jnp.asarray(rng.standard_normal(
      (*kernel_size, x_shape[-1] // groups, c_out)), jnp.float32)
  expected_y, reference_vjp = jax.vjp(
      lambda x, k: _reference(x, k, strides, padding, groups), x, kernel)
  dy = jnp.asarray(rng.standard_normal(expected_y.shape), jnp.float32)
  expected = (expected_y, *reference_vjp(dy))
  got = _values_and_grads(fast, x, kernel, dy)
  for name, e, g in zip(("y", "dx", "dkernel"), expected, got):
    assert g.shape == e.shape and g.dtype == e.dtype, name
    scale = float(jnp.max(jnp.abs(e)))
    np.testing.assert_allclose(np.asarray(g), np.asarray(e), rtol=1e-4,
                               atol=1e-5 * scale, err_msg=name)


_ASYM = ((0, 1), (0, 1), (1, 0))  # TF-SAME-like at stride 2

_SLOW = pytest.mark.slow

DEPTHWISE_CASES = [
    # x shape,        kernel,    strides,   padding
    ((2, 5, 7, 6, 3), (3, 3, 3), (1, 1, 1), None),
    ((2, 4, 8, 8, 4), (3, 3, 3), (2, 2, 2), None),
    ((2, 5, 7, 9, 4), (3, 3, 3), (2, 2, 2), _ASYM),
    ((1, 6, 8, 7, 5), (1, 3, 3), (1, 2, 2), ((0, 0), (1, 1), (1, 1))),
    ((2, 6, 5, 5, 3), (3, 1, 1), (2, 1, 1), None),
    ((1, 6, 7, 8, 2), (3, 5, 5), (1, 2, 1), ((2, 0), (3, 2), (-1, 1))),
    ((1, 3, 3, 17, 2), (1, 3, 3), (1, 1, 1), None),  # W' = 17: unrolled sums
    ((1, 3, 4, 7, 128), (3, 3, 3), (1, 1, 1), None),  # W' = 7, 128: unrolled
    pytest.param((2, 4, 8, 8, 4), (3, 3, 3), (1, 2, 2), None, marks=_SLOW),
    pytest.param((1, 3, 5, 33, 2), (3, 3, 3), (1, 2, 2), _ASYM, marks=_SLOW),
    pytest.param((2, 3, 4, 4, 6), (3, 3, 3), (1, 1, 1), ((0, 0),) * 3,
                 marks=_SLOW),
    pytest.param((1, 4, 9, 9, 2), (3, 7, 7), (1, 2, 2), None, marks=_SLOW),
]


@pytest.mark.parametrize("x_shape,kernel_size,strides,padding",
                         DEPTHWISE_CASES)
def test_depthwise_matches_grouped_conv(form, x_shape, kernel_size, strides,
                                        padding):
  form("fast")
  c = x_shape[-1]
  _check_against_reference(
      x_shape, kernel_size, c, strides, padding, c,
      lambda x, k: layers.depthwise_conv3d(x, k, strides, padding))


def _spy(monkeypatch, module, name: str) -> list:
  """Wraps module.name so that each call appends its arguments to the
  returned list (then runs the original)."""
  calls = []
  original = getattr(module, name)
  monkeypatch.setattr(module, name,
                      lambda *args: calls.append(args) or original(*args))
  return calls


def _default(cases: list) -> list:
  """The cases that run without `-m slow`."""
  return [case for case in cases if not hasattr(case, "marks")]


def test_depthwise_unrolled_sums_cases_take_that_form(form, monkeypatch):
  """The DEPTHWISE_CASES marked "unrolled" sum their kernel gradient's W'
  as written-out adds when traced; the other default cases reduce."""
  form("fast")
  rule = conv_forms._unrolled_width_sums  # pylint: disable=protected-access
  calls = _spy(monkeypatch, conv_forms, "_unrolled_width_sums")
  for x_shape, kernel_size, strides, padding in _default(DEPTHWISE_CASES):
    kernel = jnp.ones((*kernel_size, 1, x_shape[-1]))
    _grad_jaxpr(lambda x, k: layers.depthwise_conv3d(  # noqa: E731
        x, k, strides, padding),  # pylint: disable=cell-var-from-loop
                jnp.ones(x_shape), kernel)
  assert sorted({args for args in calls if rule(*args)}) == [(7, 128),
                                                             (17, 2)]


DENSE_CASES = [
    # x shape,         kernel,    C_out, strides,  padding, groups
    ((2, 5, 7, 6, 3), (3, 3, 3), 4, (1, 1, 1), None, 1),
    ((2, 5, 7, 9, 4), (3, 3, 3), 5, (2, 2, 2), _ASYM, 1),
    ((2, 4, 9, 8, 3), (3, 7, 7), 8, (1, 2, 2), None, 1),  # stem
    ((2, 6, 8, 8, 4), (1, 3, 3), 4, (1, 2, 2), ((0, 0), (1, 1), (1, 1)), 1),
    ((2, 6, 5, 5, 4), (3, 1, 1), 8, (2, 1, 1), None, 1),
    ((2, 5, 6, 7, 6), (1, 1, 1), 4, (1, 1, 1), None, 1),
    ((2, 5, 6, 7, 6), (1, 1, 1), 4, (1, 2, 2), ((0, 1), (1, 0), (0, 0)), 1),
    ((2, 4, 6, 6, 8), (3, 3, 3), 8, (1, 1, 1), None, 4),
    ((2, 5, 7, 7, 8), (3, 3, 3), 16, (2, 2, 2), None, 2),
    ((2, 4, 6, 5, 3), (3, 3, 3), 32, (1, 1, 1), None, 1),
    ((1, 5, 7, 9, 4), (3, 5, 5), 32, (2, 2, 2), _ASYM, 1),
    # > 4 input channels, (H, W) stride 1: dkernel from _dkernel_swapped
    ((2, 5, 7, 6, 8), (3, 3, 3), 8, (1, 1, 1), None, 1),
    ((2, 7, 6, 5, 6), (3, 3, 3), 12, (2, 1, 1), None, 1),
    ((1, 5, 7, 8, 6), (3, 5, 3), 5, (1, 1, 1), ((2, 0), (0, 4), (2, 1)), 1),
    ((2, 4, 6, 6, 8), (1, 3, 3), 16, (1, 1, 1), ((0, 0), (1, 1), (1, 1)), 1),
    # kt x 1 x 1 on >= 28^2 output frames: one 2D conv (_temporal_as_2d)
    ((1, 5, 28, 28, 4), (3, 1, 1), 6, (1, 1, 1), None, 1),
    ((2, 6, 56, 30, 3), (3, 1, 1), 5, (2, 2, 1), ((1, 0), (0, 0), (0, 0)), 1),
    ((1, 5, 28, 28, 2), (2, 1, 1), 3, (1, 1, 1), ((0, 0),) * 3, 1),
    ((1, 6, 27, 28, 2), (3, 1, 1), 3, (1, 1, 1), ((-1, 1), (1, 0), (0, 0)), 1),
    pytest.param((2, 4, 8, 8, 4), (3, 3, 3), 6, (2, 2, 2), None, 1,
                 marks=_SLOW),
    pytest.param((2, 4, 8, 8, 3), (3, 7, 7), 8, (1, 2, 2),
                 ((1, 1), (2, 3), (2, 3)), 1, marks=_SLOW),
    pytest.param((1, 6, 7, 8, 2), (3, 5, 5), 3, (1, 2, 1),
                 ((2, 0), (3, 2), (-1, 1)), 1, marks=_SLOW),
    pytest.param((2, 5, 6, 7, 6), (1, 1, 1), 4, (2, 2, 2), None, 1,
                 marks=_SLOW),
    pytest.param((2, 4, 6, 6, 8), (1, 1, 1), 8, (1, 1, 1), None, 8,
                 marks=_SLOW),
    pytest.param((2, 4, 6, 6, 4), (3, 3, 3), 8, (1, 1, 1), None, 4,
                 marks=_SLOW),  # channel multiplier
    pytest.param((2, 4, 9, 8, 3), (3, 7, 7), 32, (1, 2, 2), None, 1,
                 marks=_SLOW),
    pytest.param((1, 3, 6, 6, 4), (1, 3, 3), 32, (1, 1, 1),
                 ((0, 0), (-1, 2), (0, 0)), 1, marks=_SLOW),
]


def test_swapped_dkernel_cases_take_that_form(form, monkeypatch):
  """The DENSE_CASES marked for `_dkernel_swapped` run it when their
  gradient is traced; the other default cases do not."""
  form("fast")
  calls = _spy(monkeypatch, dense_conv_forms, "_dkernel_swapped")
  for x_shape, kernel_size, c_out, strides, padding, groups in _default(
      DENSE_CASES):
    kernel = jnp.ones((*kernel_size, x_shape[-1] // groups, c_out))
    _grad_jaxpr(lambda x, k: layers.conv3d(  # noqa: E731
        x, k, strides, padding, groups),  # pylint: disable=cell-var-from-loop
                jnp.ones(x_shape), kernel)
  assert [args[0].shape for args in calls] == [
      (2, 5, 7, 6, 8), (2, 7, 6, 5, 6), (1, 5, 7, 8, 6), (2, 4, 6, 6, 8)]


def test_temporal_2d_cases_take_that_form(form, monkeypatch):
  """The DENSE_CASES marked for `_temporal_as_2d` run it (their gradients
  are the dots', checked against lax by test_conv3d_matches_lax_conv); no
  other default case does, nor bf16 inputs."""
  form("fast")
  calls = _spy(monkeypatch, conv_forms, "_temporal_as_2d")
  for x_shape, kernel_size, c_out, strides, padding, groups in _default(
      DENSE_CASES):
    layers.conv3d(jnp.ones(x_shape), jnp.ones(
        (*kernel_size, x_shape[-1] // groups, c_out)), strides, padding, groups)
  layers.conv3d(jnp.ones((1, 5, 28, 28, 4), jnp.bfloat16),
                jnp.ones((3, 1, 1, 4, 6), jnp.bfloat16))  # bf16: the dots
  assert [args[0].shape for args in calls] == [
      (1, 5, 28, 28, 4), (2, 6, 56, 30, 3), (1, 5, 28, 28, 2),
      (1, 6, 27, 28, 2)]


@pytest.mark.parametrize("x_shape,kernel_size,c_out,strides,padding,groups",
                         DENSE_CASES)
def test_conv3d_matches_lax_conv(form, x_shape, kernel_size, c_out, strides,
                                 padding, groups):
  form("fast")
  _check_against_reference(
      x_shape, kernel_size, c_out, strides, padding, groups,
      lambda x, k: layers.conv3d(x, k, strides, padding, groups))


def _grad_jaxpr(conv, x, kernel) -> str:
  """Text of the jaxpr of conv's forward and both gradients."""
  loss = lambda x, k: jnp.sum(conv(x, k))  # noqa: E731
  return str(jax.make_jaxpr(jax.grad(loss, argnums=(0, 1)))(x, kernel))


POOL_CASES = [
    # x shape,         window,    strides,   padding
    ((2, 6, 9, 8, 3), (3, 3, 3), (1, 1, 1), None),  # Inception's branch pool
    ((1, 8, 14, 14, 4), (1, 3, 3), (1, 2, 2), None),  # ResNet / CSN stem
    ((1, 8, 14, 15, 4), (3, 3, 3), (2, 2, 2), _ASYM),  # TF "SAME" at stride 2
    ((1, 8, 14, 14, 4), (2, 2, 2), (2, 2, 2), ((0, 0),) * 3),
    ((1, 7, 9, 9, 2), (2, 7, 7), (1, 2, 3), ((1, 0), (3, 3), (2, 2))),
]


@pytest.mark.parametrize("x_shape,window,strides,padding", POOL_CASES)
def test_max_pool_matches_reduce_window(form, x_shape, window, strides,
                                        padding):
  """Values and gradients of the fast max pool equal `nn.max_pool`'s (JAX's
  reduce_window and its select-and-scatter gradient), under jit; the fast
  form has no reduce_window."""
  form("fast")
  rng = np.random.default_rng(sum(x_shape))
  x = jnp.asarray(rng.standard_normal(x_shape), jnp.float32)
  pads = padding or tuple(layers.symmetric_padding(window))
  want_y, want_vjp = jax.vjp(lambda x: nn.max_pool(x, window, strides, pads),
                             x)
  dy = jnp.asarray(rng.standard_normal(want_y.shape), jnp.float32)
  pool = lambda x: layers.max_pool3d(x, window, strides, padding)  # noqa: E731
  got_y, got_dx = jax.jit(lambda x, dy: (
      pool(x), jax.vjp(pool, x)[1](dy)[0]))(x, dy)
  np.testing.assert_array_equal(np.asarray(got_y), np.asarray(want_y))
  np.testing.assert_array_equal(np.asarray(got_dx),
                                np.asarray(want_vjp(dy)[0]))
  assert "reduce_window" not in str(jax.make_jaxpr(jax.grad(
      lambda x: jnp.sum(pool(x))))(x))


def test_max_pool_edge_cases(form):
  """Negative pads crop (as cropping first would); NaN wins its windows;
  tied maxima pass each window's gradient to one input (the first)."""
  form("fast")
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.standard_normal((1, 5, 9, 8, 2)), jnp.float32)
  cropped = lambda x: nn.max_pool(  # noqa: E731
      x[:, :, 1:], (1, 3, 3), (1, 2, 2), ((0, 0), (0, 1), (1, 1)))
  pool = lambda x: layers.max_pool3d(  # noqa: E731
      x, (1, 3, 3), (1, 2, 2), ((0, 0), (-1, 1), (1, 1)))
  np.testing.assert_array_equal(np.asarray(pool(x)), np.asarray(cropped(x)))
  np.testing.assert_array_equal(
      np.asarray(jax.grad(lambda x: jnp.sum(jnp.sin(pool(x))))(x)),
      np.asarray(jax.grad(lambda x: jnp.sum(jnp.sin(cropped(x))))(x)))
  y = layers.max_pool3d(x.at[0, 2, 4, 4, 1].set(jnp.nan), (3, 3, 3),
                        (1, 1, 1))
  assert int(jnp.isnan(y).sum()) == 27 and bool(jnp.isnan(y[0, 2, 4, 4, 1]))
  ties = jnp.zeros((1, 3, 4, 4, 1))
  dx = jax.grad(lambda x: jnp.sum(layers.max_pool3d(
      x, (1, 2, 2), (1, 2, 2), ((0, 0),) * 3)))(ties)
  assert float(dx.sum()) == 12 and set(np.unique(np.asarray(dx))) == {0, 1}
  assert float(dx[0, 0, 0, 0, 0]) == 1  # the first of its window


def test_form_switch_selects_forms(form):
  """Fast: no 3D lax conv (no conv at all for depthwise, 1x1x1); else lax."""
  x = jnp.ones((2, 4, 6, 6, 8))
  depthwise = lambda x, k: layers.depthwise_conv3d(x, k)  # noqa: E731
  cases = ((depthwise, jnp.ones((3, 3, 3, 1, 8)), False),
           (layers.conv3d, jnp.ones((1, 1, 1, 8, 4)), False),
           (layers.conv3d, jnp.ones((3, 3, 3, 8, 4)), True))
  conv_3d = "lhs_dilation=(1, 1, 1)"
  form("fast")
  for conv, kernel, uses_2d_convs in cases:
    jaxpr = _grad_jaxpr(conv, x, kernel)
    assert conv_3d not in jaxpr
    assert ("conv_general_dilated" in jaxpr) == uses_2d_convs
  form("reference")
  for conv, kernel, _ in cases:
    assert conv_3d in _grad_jaxpr(conv, x, kernel)
  form("bogus")
  with pytest.raises(ValueError, match="VIDEO_FLAX_CONV_FORM"):
    layers.conv3d(x, jnp.ones((1, 1, 1, 8, 4)))


def test_auto_form_is_fast_on_cpu_only(form, monkeypatch):
  form("auto")
  monkeypatch.setattr(jax, "default_backend", lambda: "cpu")
  assert conv_forms.fast_forms_enabled()
  monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
  assert not conv_forms.fast_forms_enabled()


@pytest.mark.parametrize("groups,c_out", [(1, 6), (4, 4)])
def test_bfloat16_inputs(form, groups, c_out):
  """bf16 in, bf16 out; values match the f32 reference on the same inputs."""
  form("fast")
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.standard_normal((2, 4, 6, 6, 4)), jnp.bfloat16)
  kernel = jnp.asarray(rng.standard_normal((3, 3, 3, 4 // groups, c_out)),
                       jnp.bfloat16)
  conv = lambda x, k: layers.conv3d(x, k, (1, 2, 2), None, groups)  # noqa: E731
  y, vjp = jax.vjp(jax.jit(conv), x, kernel)
  dx, dk = vjp(jnp.ones_like(y))
  assert (y.dtype, dx.dtype, dk.dtype) == (jnp.bfloat16,) * 3
  x32, k32 = x.astype(jnp.float32), kernel.astype(jnp.float32)
  y32, vjp32 = jax.vjp(
      lambda x, k: _reference(x, k, (1, 2, 2), None, groups), x32, k32)
  for got, want in zip((y, dx, dk), (y32, *vjp32(jnp.ones_like(y32)))):
    scale = float(jnp.abs(want).max())
    np.testing.assert_allclose(np.asarray(got, np.float32), np.asarray(want),
                               rtol=2e-2, atol=2e-2 * scale)


def test_conv3d_module_routes_depthwise_and_matches(form):
  form("fast")
  rng = np.random.default_rng(1)
  x = jnp.asarray(rng.standard_normal((2, 4, 6, 6, 8)), jnp.float32)
  module = layers.Conv3D(8, (3, 3, 3), strides=(1, 2, 2),
                         feature_group_count=8, use_bias=True)
  shapes = jax.eval_shape(module.init, jax.random.key(0), x)["params"]
  assert (shapes["kernel"].shape, shapes["bias"].shape) == ((3, 3, 3, 1, 8),
                                                           (8,))
  params = {"kernel": jnp.asarray(rng.standard_normal((3, 3, 3, 1, 8)),
                                  jnp.float32),
            "bias": jnp.arange(8, dtype=jnp.float32)}
  got = jax.jit(module.apply)({"params": params}, x)
  want = _reference(x, params["kernel"], (1, 2, 2), None, 8) + params["bias"]
  np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4,
                             atol=1e-4)


def test_shape_errors_name_the_shapes(form):
  form("fast")
  x = jnp.ones((1, 4, 6, 6, 8))
  with pytest.raises(ValueError, match=r"kernel \(3, 3, 3, 3, 4\)"):
    layers.conv3d(x, jnp.ones((3, 3, 3, 3, 4)))
  with pytest.raises(ValueError, match=r"\[kt, kh, kw, 1, C\]"):
    layers.depthwise_conv3d(x, jnp.ones((3, 3, 3, 1, 4)))
  with pytest.raises(ValueError, match="empty output"):
    layers.conv3d(x, jnp.ones((7, 1, 1, 8, 4)), padding=((0, 0),) * 3)


_SHARDED_CHECK = """
import jax, jax.numpy as jnp, numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
from video_flax.models import conv_forms, layers
mesh = Mesh(jax.devices(), ("data",))
rng = np.random.default_rng(0)
x = jax.device_put(jnp.asarray(rng.standard_normal((8, 4, 6, 6, 4)),
                               jnp.float32), NamedSharding(mesh, P("data")))
kernels = [jnp.asarray(rng.standard_normal(s), jnp.float32)
           for s in ((3, 3, 3, 1, 4), (3, 3, 3, 4, 32), (3, 3, 3, 32, 8))]

def grads(x, k1, k2, k3):
  # k3: > 4 input channels, dkernel from dense_conv_forms._dkernel_swapped
  loss = lambda x, k1, k2, k3: jnp.sum(layers.conv3d(layers.conv3d(
      layers.max_pool3d(layers.depthwise_conv3d(x, k1, (1, 2, 2)),
                        (3, 3, 3), (1, 1, 1)), k2), k3) ** 2)
  return jax.grad(loss, argnums=(0, 1, 2, 3))(x, k1, k2, k3)

conv_forms.FORM = "fast"
fast = jax.jit(grads)
hlo = fast.lower(x, *kernels).compile().as_text()
got = fast(x, *kernels)
conv_forms.FORM = "reference"
want = jax.jit(grads)(x, *kernels)
for g, w in zip(got, want):
  np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-4,
                             atol=1e-4 * float(jnp.abs(w).max()))
print("all-gathers", hlo.count("all-gather("))
"""


def test_sharded_batch_stays_sharded():
  """On 8 devices with the batch sharded: same gradients, no all-gather.

  The dkernel loops slice blocks of frames, never the batch, and the swapped
  dkernel's transposes and the max pool's taps keep the batch axis whole,
  so each device works on its own clips (slicing the batch would gather it
  everywhere).
  """
  result = run_python(_SHARDED_CHECK, devices=8, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  assert "all-gathers 0" in result.stdout, result.stdout
