"""Model zoo: one explicit registry from name to `ModelEntry`.

Every constructor takes `num_classes` (and optional keyword overrides) and
returns a flax.linen Module called as `model.apply(variables, x, train=...)`
with x of shape [B, T, H, W, C] (a dict of such arrays for a model reading
several input keys) and returning logits [B, num_classes].

The registry is the one source of model facts: the constructor, the batch
keys the model reads (`input_keys`), how a batch becomes its inputs
(`model_inputs`) and the clip size it is usually run at (`reference_shape`).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

import flax.linen as nn
import jax.numpy as jnp
import ml_collections

from video_flax.models import c3d
from video_flax.models import frame2d
from video_flax.models import inception
from video_flax.models import lstm
from video_flax.models import resnet3d
from video_flax.models import s3d
from video_flax.models import two_stream

# What a model reads when its class declares no `input_keys`.
DEFAULT_INPUT_KEYS = ("video",)
# Clip size (T, H, W) of `*_tiny` models: the CPU-trained miniatures.
TINY_SHAPE = (8, 32, 32)


def input_keys(model: nn.Module | Callable[..., nn.Module]) -> tuple[str, ...]:
  """The batch keys a model (or its constructor) reads, e.g. ('video',)."""
  cls = getattr(model, "func", model)  # unwrap functools.partial presets
  return tuple(getattr(cls, "input_keys", DEFAULT_INPUT_KEYS))


def model_inputs(model: nn.Module, batch: Mapping[str, Any]) -> Any:
  """The array (one input key) or dict (several) the model is called with."""
  keys = input_keys(model)
  if len(keys) == 1:
    return batch[keys[0]]
  return {k: batch[k] for k in keys}


@dataclasses.dataclass(frozen=True)
class ModelEntry:
  """One registered model.

  Attributes:
    constructor: called as constructor(num_classes=..., **overrides).
    reference_shape: the clip (T, H, W) the model is usually run at (its
      paper's, for FLOP tables), the same for each of its input keys.
  """
  constructor: Callable[..., nn.Module]
  reference_shape: tuple[int, int, int]

  @property
  def input_keys(self) -> tuple[str, ...]:
    return input_keys(self.constructor)

  @property
  def flattens_space(self) -> bool:
    """True for a model that flattens H x W into features (C3D's fc6), so
    a spatial mesh axis cannot split its activations."""
    cls = getattr(self.constructor, "func", self.constructor)
    return getattr(cls, "flattens_space", False)


def merge_registries(*registries: Mapping[str, Any]) -> dict[str, Any]:
  """One dict of several; a name in two registries is an error."""
  merged: dict[str, Any] = {}
  for registry in registries:
    repeated = sorted(set(merged) & set(registry))
    if repeated:
      raise ValueError(f"models registered twice: {', '.join(repeated)}")
    merged.update(registry)
  return merged


def _entries(constructors: Mapping[str, Callable[..., nn.Module]],
             shapes: Mapping[str, tuple[int, int, int]]
             ) -> dict[str, ModelEntry]:
  """One family's entries: its REFERENCE_SHAPES, else TINY_SHAPE for tiny
  models (a full-size model without a shape is an error)."""
  entries = {}
  for name, ctor in constructors.items():
    if name not in shapes and not name.endswith("_tiny"):
      raise ValueError(f"model {name!r} has no reference shape")
    entries[name] = ModelEntry(ctor, tuple(shapes.get(name, TINY_SHAPE)))
  return entries


MODELS: dict[str, ModelEntry] = merge_registries(*(
    _entries(family.MODELS, family.REFERENCE_SHAPES)
    for family in (resnet3d, frame2d, inception, s3d, c3d, lstm, two_stream)))


def build_model(name: str, num_classes: int, **kwargs: Any) -> nn.Module:
  """Builds a registered model; unknown names fail listing the known ones."""
  if name not in MODELS:
    raise ValueError(f"Unknown model {name!r}. Known models: "
                     f"{', '.join(sorted(MODELS))}")
  return MODELS[name].constructor(num_classes=num_classes, **kwargs)


def from_config(model_cfg: ml_collections.ConfigDict, num_classes: int
                ) -> nn.Module:
  """The model `config.model` names: `name` picks the registry entry, every
  other field is a constructor keyword (`dtype` given as a string)."""
  kwargs = {k: v for k, v in model_cfg.items() if k != "name"}
  kwargs["dtype"] = jnp.dtype(kwargs.get("dtype", "float32"))
  return build_model(model_cfg.name, num_classes, **kwargs)
