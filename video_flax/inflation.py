"""Filter inflation: a 2D network's variables become a 3D network's.

A 2D N x N kernel [kh, kw, C_in, C_out] is repeated N_t times along time and
divided by N_t (`inflate_conv_kernel`), so on a "boring" video (one image
repeated) every inflated conv computes what the 2D conv computes on the
image. Batch-norm parameters and statistics, biases and dense layers are
copied unchanged. The temporal sizes are not chosen here: they are read from
the 3D model's own (abstract) variables, so the 3D architecture is the one
place that defines them.
"""
from __future__ import annotations

import fnmatch
from typing import Any, Mapping, Sequence

import jax
import numpy as np

from video_flax import variable_trees

Array = jax.Array


def inflate_conv_kernel(kernel_2d: Array, time_size: int) -> Array:
  """[kh, kw, C_in, C_out] -> [time_size, kh, kw, C_in, C_out], repeated / time_size."""
  if kernel_2d.ndim != 4:
    raise ValueError(f"inflate_conv_kernel: expected a 2D kernel [kh, kw, C_in,"
                     f" C_out], got shape {tuple(kernel_2d.shape)}")
  if time_size < 1:
    raise ValueError(f"inflate_conv_kernel: time_size must be >= 1, got {time_size}")
  # Array methods: numpy in, numpy out (host checkpoints); jax in, jax out.
  return kernel_2d[None].repeat(time_size, axis=0) / time_size


def _is_excluded(path: str, patterns: Sequence[str]) -> bool:
  return any(path == p or path.startswith(p.rstrip("/") + "/")
             or fnmatch.fnmatchcase(path, p) for p in patterns)


def inflate_variables(variables_2d: Mapping[str, Any],
                      target_3d: Mapping[str, Any], *,
                      exclude: Sequence[str] = ()) -> dict[str, Any]:
  """Turns a 2D variables tree into the 3D model's, path by path.

  Args:
    variables_2d: the 2D network's variables ({'params': ..., 'batch_stats':
      ...}), e.g. a trained `inception_v1_2d` or an imported checkpoint.
    target_3d: the 3D network's variables with the same paths, concrete or
      abstract (`jax.eval_shape(model.init, ...)`); only shapes and dtypes are
      read, except for excluded paths.
    exclude: paths (or a path prefix, or an fnmatch pattern such as
      'params/head/*') whose values are taken from `target_3d` unchanged, e.g.
      a new classifier; `target_3d` must then hold concrete arrays there.
  Returns:
    a tree with the structure of `target_3d`: 5D kernels whose last four
    dims equal a 4D 2D kernel are inflated over the target's time size; every
    other leaf is copied and must have the target's shape.
  Raises:
    ValueError listing every missing, unexpected and mis-shaped path, with
    shapes, when the trees do not correspond.
  """
  source = variable_trees.flatten(variables_2d)
  target = variable_trees.flatten(target_3d)
  out, missing, misshaped = {}, [], []
  for path, leaf in target.items():
    shape = tuple(leaf.shape)
    if _is_excluded(path, exclude):
      if isinstance(leaf, jax.ShapeDtypeStruct):
        raise ValueError(f"inflate_variables: excluded path {path} {shape} is "
                         "abstract in target_3d; pass concrete variables "
                         "(model.init) to keep its value")
      out[path] = leaf
    elif path not in source:
      missing.append(f"{path} {shape}")
    else:
      value = np.asarray(source[path])
      if len(shape) == 5 and value.ndim == 4 and shape[1:] == value.shape:
        out[path] = inflate_conv_kernel(value, shape[0]).astype(leaf.dtype)
      elif value.shape == shape:
        out[path] = value.astype(leaf.dtype)
      else:
        misshaped.append(f"{path}: 2D {value.shape} vs 3D {shape}")
  unexpected = [f"{p} {tuple(np.shape(v))}" for p, v in source.items()
                if p not in target and not _is_excluded(p, exclude)]
  variable_trees.raise_if_mismatched(
      "inflate_variables: the 2D and 3D trees do not match.", "2D tree",
      missing=missing, unexpected=unexpected, misshaped=misshaped)
  return variable_trees.unflatten(out)
