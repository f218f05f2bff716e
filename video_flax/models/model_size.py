"""How big a model is: parameters and multiply-accumulates (MACs) at any
clip size, from abstract shapes (nothing is allocated or run).

MACs are counted analytically from the forward pass's jaxpr (traced, never
run): every convolution contributes output elements x kernel volume x input
channels per group, every matmul/einsum output elements x contracted size.
Elementwise work (BN, ReLU, pooling, residual adds) is not counted, as in
the papers' and torchvision's figures. Convs are traced in their reference
form (`lax.conv_general_dilated`) so the count is a property of the model,
not of the CPU rewrite that runs it. FLOPs = 2 x MACs. `xla_flops` is XLA's
own count for the compiled forward pass, which leaves out kernel taps on
zero padding and adds the elementwise work.

The command line is video_flax/tools/flops.py.
"""
from __future__ import annotations

import collections
import contextlib
import dataclasses
import math
from typing import Any, Iterator, Sequence

import flax.linen as nn
import jax
from jax.extend import core as jax_core
import jax.numpy as jnp

from video_flax import models
from video_flax.models import conv_forms
from video_flax.models import cpu_compile

# Channels of each model input key; everything else is RGB.
INPUT_CHANNELS = {"flow": 2}


@dataclasses.dataclass(frozen=True)
class OpCount:
  """MACs of one conv or matmul of the forward pass."""
  name: str  # the module path it was traced under
  op: str  # "conv" | "matmul"
  macs: int


def example_inputs(model: nn.Module, shape: Sequence[int], batch_size: int = 1
                   ) -> Any:
  """Abstract inputs [B, T, H, W, C] (a dict for several input keys)."""
  keys = models.input_keys(model)
  specs = {k: jax.ShapeDtypeStruct(
      (batch_size, *shape, INPUT_CHANNELS.get(k, 3)), jnp.float32)
           for k in keys}
  return specs[keys[0]] if len(keys) == 1 else specs


@contextlib.contextmanager
def reference_conv_forms() -> Iterator[None]:
  """Traces convs as `lax.conv_general_dilated` within the block."""
  previous = conv_forms.FORM
  conv_forms.FORM = "reference"
  try:
    yield
  finally:
    conv_forms.FORM = previous


def abstract_variables(model: nn.Module, inputs: Any) -> Any:
  """Shapes of the model's variables, without allocating them."""
  return jax.eval_shape(
      lambda x: model.init({"params": jax.random.key(0),
                            "dropout": jax.random.key(0)}, x, train=False),
      inputs)


def _valid_taps(in_size: int, kernel: int, out_size: int, stride: int,
                pad_before: int, dilation: int) -> int:
  """(output position, kernel tap) pairs of one axis that read real input."""
  return sum(1 for o in range(out_size) for t in range(kernel)
             if 0 <= o * stride - pad_before + t * dilation < in_size)


def _conv_macs(eqn: Any, count_padding: bool) -> int:
  out = eqn.outvars[0].aval.shape
  lhs = eqn.invars[0].aval.shape
  kernel = eqn.invars[1].aval.shape
  numbers = eqn.params["dimension_numbers"]
  out_features = kernel[numbers.rhs_spec[0]]
  if count_padding:
    # Per output element: kernel volume x input channels per group.
    return math.prod(out) * math.prod(kernel) // out_features
  if any(d != 1 for d in eqn.params["lhs_dilation"]):
    raise ValueError("count_padding=False needs lhs_dilation 1")
  valid = 1
  for i, (lhs_axis, rhs_axis, out_axis) in enumerate(zip(
      numbers.lhs_spec[2:], numbers.rhs_spec[2:], numbers.out_spec[2:])):
    valid *= _valid_taps(lhs[lhs_axis], kernel[rhs_axis], out[out_axis],
                         eqn.params["window_strides"][i],
                         eqn.params["padding"][i][0],
                         eqn.params["rhs_dilation"][i])
  in_per_group = kernel[numbers.rhs_spec[1]]
  return out[numbers.out_spec[0]] * out_features * in_per_group * valid


def _matmul_macs(eqn: Any) -> int:
  (lhs_contract, _), _ = eqn.params["dimension_numbers"]
  lhs = eqn.invars[0].aval.shape
  contracted = math.prod(lhs[axis] for axis in lhs_contract)
  return math.prod(eqn.outvars[0].aval.shape) * contracted


def _sub_jaxprs(params: dict[str, Any]) -> Iterator[tuple[str, Any]]:
  for key, value in params.items():
    values = value if isinstance(value, (tuple, list)) else (value,)
    for v in values:
      if isinstance(v, jax_core.ClosedJaxpr):
        yield key, v.jaxpr
      elif isinstance(v, jax_core.Jaxpr):
        yield key, v


def _walk(jaxpr: Any, scope: str, repeat: int, count_padding: bool,
          out: list[OpCount]) -> None:
  for eqn in jaxpr.eqns:
    stack = str(eqn.source_info.name_stack)
    name = stack if stack.startswith(scope) else "/".join(
        p for p in (scope, stack) if p)
    primitive = eqn.primitive.name
    if primitive == "conv_general_dilated":
      out.append(OpCount(name, "conv", repeat * _conv_macs(eqn, count_padding)))
    elif primitive == "dot_general":
      out.append(OpCount(name, "matmul", repeat * _matmul_macs(eqn)))
    elif primitive == "while":
      raise ValueError(f"cannot count MACs of a while loop (at {name!r}): "
                       "its trip count is not static")
    elif primitive == "cond":
      branches = []
      for _, sub in _sub_jaxprs(eqn.params):
        counts: list[OpCount] = []
        _walk(sub, name, repeat, count_padding, counts)
        branches.append(counts)
      out.extend(max(branches, key=lambda c: sum(o.macs for o in c)))
    else:
      times = eqn.params["length"] if primitive == "scan" else 1
      for _, sub in _sub_jaxprs(eqn.params):
        _walk(sub, name, repeat * times, count_padding, out)


def count_ops(model: nn.Module, shape: Sequence[int], batch_size: int = 1,
              count_padding: bool = True) -> list[OpCount]:
  """Every conv and matmul of `model`'s forward pass (eval mode) on clips
  of `shape` = (T, H, W), with its MACs.

  `count_padding=False` leaves out kernel taps that fall on zero padding, as
  XLA's cost analysis does; the published figures count them.
  """
  inputs = example_inputs(model, shape, batch_size)
  with reference_conv_forms():
    variables = abstract_variables(model, inputs)
    jaxpr = jax.make_jaxpr(
        lambda v, x: model.apply(v, x, train=False))(variables, inputs)
  counts: list[OpCount] = []
  _walk(jaxpr.jaxpr, "", 1, count_padding, counts)
  return counts


def count_macs(model: nn.Module, shape: Sequence[int], batch_size: int = 1,
               count_padding: bool = True) -> int:
  """Total MACs of one forward pass of `batch_size` clips of (T, H, W)."""
  return sum(op.macs for op in count_ops(model, shape, batch_size,
                                         count_padding))


def count_params(model: nn.Module, shape: Sequence[int]) -> int:
  """Number of parameters (BN running statistics excluded)."""
  variables = abstract_variables(model, example_inputs(model, shape))
  return sum(math.prod(p.shape) for p in jax.tree.leaves(variables["params"]))


def xla_flops(model: nn.Module, shape: Sequence[int], batch_size: int = 1
              ) -> float:
  """XLA's cost-analysis FLOPs of the compiled forward pass (eval mode).

  XLA counts conv taps on real input only (see `count_ops(count_padding=
  False)`) and adds the elementwise work.
  """
  inputs = example_inputs(model, shape, batch_size)
  variables = abstract_variables(model, inputs)
  compiled = cpu_compile.jit(lambda v, x: model.apply(v, x, train=False)).lower(
      variables, inputs).compile()
  analysis = compiled.cost_analysis()
  if isinstance(analysis, (list, tuple)):
    analysis = analysis[0]
  return float(analysis["flops"])


def per_layer(counts: Sequence[OpCount]) -> dict[str, int]:
  """MACs summed per module path, in forward order."""
  table: dict[str, int] = collections.OrderedDict()
  for op in counts:
    table[op.name] = table.get(op.name, 0) + op.macs
  return table
