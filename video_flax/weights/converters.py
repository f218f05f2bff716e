"""Checkpoint file -> (WeightsInfo, variables) for each source format.

`read_checkpoint` reads a file without the framework that wrote it (safe
PyTorch unpickler, safetensors, TensorBundle); `convert` maps its tensors
onto the registered model the `sources` entry names, reporting every
mismatch (mapping.map_onto).
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np

from video_flax import variable_trees
from video_flax.weights import (safetensors_file, sources, tf_bundle,
                                torch_pickle)
from video_flax.weights.format import COLLECTIONS, WeightsInfo, dummy_inputs
from video_flax.weights.kinetics_i3d_names import SCOPES, i3d_name
from video_flax.weights.mapping import map_onto, torch_layout
from video_flax.weights.torchvision_names import s3d_name, video_resnet_namer

Tensors = dict[str, np.ndarray]
SOURCES = tuple(sources.PUBLISHED)


def _state_dict(obj: Any, path: str) -> Tensors:
  """The {name: array} inside a loaded .pth: the object itself, or its
  'state_dict' / 'model' entry; a DataParallel 'module.' prefix is
  removed."""
  for key in ("state_dict", "model"):
    if isinstance(obj, Mapping) and isinstance(obj.get(key), Mapping):
      obj = obj[key]
  if not isinstance(obj, Mapping) or not obj or not all(
      isinstance(v, np.ndarray) for v in obj.values()):
    raise ValueError(f"{path}: holds no state_dict (a mapping from names to "
                     f"tensors, possibly under 'state_dict' or 'model')")
  if all(k.startswith("module.") for k in obj):
    return {k[len("module."):]: v for k, v in obj.items()}
  return dict(obj)


def checkpoint_prefix(path: str) -> str:
  """TF checkpoint prefix from 'model.ckpt', 'model.ckpt.index' or a data
  shard 'model.ckpt.data-00000-of-00001'."""
  if path.endswith(".index"):
    return path[:-len(".index")]
  return re.sub(r"\.data-\d{5}-of-\d{5}$", "", path)


def read_checkpoint(path: str, source: str) -> Tensors:
  """{name: array} of a checkpoint file of `source` (see SOURCES)."""
  if source == "kinetics_i3d":
    return tf_bundle.load(checkpoint_prefix(path))
  if source not in SOURCES:
    raise ValueError(f"Unknown source {source!r}; known: {', '.join(SOURCES)}")
  if not os.path.isfile(path):
    raise FileNotFoundError(f"No checkpoint file {path}")
  if path.endswith(".safetensors"):
    return safetensors_file.load(path)
  return _state_dict(torch_pickle.load(path), path)


def naming(source: str, entry: sources.Published, paths: list[str]
            ) -> tuple[Callable[[str], str | None], Callable, Callable, str]:
  """(our path -> source name, layout, consumed-name test, head bias name)."""
  if source == "kinetics_i3d":
    scope = SCOPES[entry.preprocessing.input_keys[0]]
    return (lambda p: i3d_name(p, scope), lambda a: a, lambda n: False,
            f"{scope}/Logits/Conv3d_0c_1x1/conv_3d/b")
  batches = lambda name: name.endswith(".num_batches_tracked")
  if entry.model.startswith("s3d"):
    return s3d_name, torch_layout, batches, "classifier.1.bias"
  return video_resnet_namer(paths), torch_layout, batches, "fc.bias"


def abstract_variables(info: WeightsInfo) -> dict[str, Any]:
  """Flat {path: ShapeDtypeStruct} of the model `info` describes."""
  model = info.build_model()
  tree = jax.eval_shape(
      lambda x: model.init({"params": jax.random.key(0),
                            "dropout": jax.random.key(0)}, x, train=False),
      dummy_inputs(model, info.preprocessing))
  return variable_trees.flatten({c: tree[c] for c in COLLECTIONS if c in tree})


def convert(source: str, name: str, tensors: Mapping[str, np.ndarray], *,
            class_names: tuple[str, ...] | None = None,
            model: str | None = None,
            model_kwargs: Mapping[str, Any] | None = None,
            source_info: Mapping[str, Any] | None = None
            ) -> tuple[WeightsInfo, dict[str, Any]]:
  """Maps the checkpoint `tensors` of `source` model `name` onto our model.

  class_names: overrides the shipped list (needed where none is shipped,
    e.g. kinetics-i3d); must match the checkpoint's class count.
  model, model_kwargs: another registered model / extra kwargs (tests use
    reduced-depth variants of the same layout).
  Returns (info, variables {'params', 'batch_stats'} as float32 numpy).
  Raises ValueError with every mismatch.
  """
  entry = sources.published(source, name)
  kwargs = {**entry.model_kwargs, **(model_kwargs or {})}
  provisional = WeightsInfo(model or entry.model, 1, ("?",),
                            entry.preprocessing, kwargs)
  expected = abstract_variables(provisional)
  source_name, layout, consumed, head_bias = naming(source, entry,
                                                     list(expected))
  if head_bias not in tensors:
    raise ValueError(f"The {source} checkpoint has no classifier bias "
                     f"{head_bias}; is it a {name} checkpoint?")
  num_classes = int(np.shape(tensors[head_bias])[0])
  names = class_names or sources.shipped_labels(entry)
  if names is None:
    raise ValueError(f"No class-name list ships for {source} {name} "
                     f"({entry.label_note}); pass one (one name per line)")
  if len(names) != num_classes:
    raise ValueError(f"{len(names)} class names for a checkpoint with "
                     f"{num_classes} classes")
  info = WeightsInfo(
      provisional.model, num_classes, tuple(names), entry.preprocessing,
      kwargs, {"format": source, "name": name,
               "class_names": entry.label_note, **(source_info or {})})
  expected = _with_head_size(expected, num_classes)
  variables = map_onto(expected, tensors, source_name, layout,
                       consumed=consumed,
                       description=f"{source} checkpoint ({name})")
  return info, variables


def _with_head_size(expected: dict[str, Any], num_classes: int
                    ) -> dict[str, Any]:
  """The abstract head (built with 1 class) resized to `num_classes`."""
  resized = {}
  for path, leaf in expected.items():
    head = path.startswith("params/head/")
    shape = (*leaf.shape[:-1], num_classes) if head else leaf.shape
    resized[path] = jax.ShapeDtypeStruct(shape, leaf.dtype)
  return resized
