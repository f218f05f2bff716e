"""Maps a checkpoint's {name: array} onto a model's variable tree.

Every converter gives, for each of our variable paths ('params/conv2_1/
conv1/conv/kernel'), the source name it comes from and how its layout turns
into ours. `map_onto` then fills the whole tree and reports through
`variable_trees`, loudly: every path whose source name is missing, every
source name nothing asked for (unless the converter declared it consumed,
e.g. PyTorch's `num_batches_tracked`), every shape that does not fit.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from video_flax import variable_trees

# Our leaf name -> PyTorch's, by collection ('params/.../scale' -> weight).
TORCH_LEAVES = {"kernel": "weight", "bias": "bias", "scale": "weight",
                "mean": "running_mean", "var": "running_var"}


def torch_layout(array: np.ndarray) -> np.ndarray:
  """PyTorch -> flax layout: Conv3d [O, I/g, T, H, W] -> [T, H, W, I/g, O],
  Linear [O, I] -> [I, O]; vectors unchanged."""
  if array.ndim == 5:
    return np.transpose(array, (2, 3, 4, 1, 0))
  if array.ndim == 2:
    return array.T
  return array


def torch_name(module: str, path: str) -> str:
  """Module 'layer1.0.conv1.0' + our path ending in '/kernel' ->
  'layer1.0.conv1.0.weight'."""
  return f"{module}.{TORCH_LEAVES[path.rsplit('/', 1)[-1]]}"


def map_onto(expected: Mapping[str, Any], source: Mapping[str, np.ndarray],
             source_name: Callable[[str], str | None],
             layout: Callable[[np.ndarray], np.ndarray], *,
             consumed: Callable[[str], bool] = lambda name: False,
             description: str = "checkpoint") -> dict[str, Any]:
  """The variables {'params': ..., 'batch_stats': ...} of `expected`.

  Args:
    expected: our flat variables ('params/a/kernel' -> array or
      ShapeDtypeStruct), e.g. variable_trees.flatten of an abstract init.
    source: the checkpoint's {name: array}.
    source_name: our path -> the source name (None: no counterpart, reported
      as missing).
    layout: source array -> our layout.
    consumed: source names read on purpose without a counterpart (not
      reported as unexpected), e.g. BN's num_batches_tracked.
    description: how the report names the source ("torchvision checkpoint").
  Raises:
    ValueError: listing every missing, unexpected and mis-shaped name.
  """
  flat, missing, misshaped, used = {}, [], [], set()
  for path, leaf in expected.items():
    name = source_name(path)
    if name is None or name not in source:
      missing.append(f"{path} {tuple(leaf.shape)} <- {name or '(no name)'}")
      continue
    used.add(name)
    value = np.asarray(layout(np.asarray(source[name])), np.float32)
    if value.shape != tuple(leaf.shape):
      misshaped.append(f"{path} {tuple(leaf.shape)} <- {name} "
                       f"{tuple(np.shape(source[name]))}")
      continue
    flat[path] = value
  unexpected = [f"{name} {tuple(np.shape(value))}"
                for name, value in source.items()
                if name not in used and not consumed(name)]
  variable_trees.raise_if_mismatched(
      f"The {description} does not fit the model.", description,
      missing=missing, unexpected=unexpected, misshaped=misshaped)
  return variable_trees.unflatten(flat)
