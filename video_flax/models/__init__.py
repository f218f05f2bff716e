"""Model zoo: one explicit registry from name to constructor.

Every constructor takes `num_classes` (and optional keyword overrides) and
returns a flax.linen Module called as `model.apply(variables, x, train=...)`
with x of shape [B, T, H, W, C] and returning logits [B, num_classes].
"""
from __future__ import annotations

from typing import Any, Callable

import flax.linen as nn

from video_flax.models import c3d
from video_flax.models import frame2d
from video_flax.models import inception
from video_flax.models import lstm
from video_flax.models import resnet3d
from video_flax.models import s3d
from video_flax.models import two_stream

MODELS: dict[str, Callable[..., nn.Module]] = {
    **resnet3d.MODELS,
    **frame2d.MODELS,
    **inception.MODELS,
    **s3d.MODELS,
    **c3d.MODELS,
    **lstm.MODELS,
    **two_stream.MODELS,
}


def build_model(name: str, num_classes: int, **kwargs: Any) -> nn.Module:
  """Builds a registered model; unknown names fail listing the known ones."""
  if name not in MODELS:
    raise ValueError(f"Unknown model {name!r}. Known models: "
                     f"{', '.join(sorted(MODELS))}")
  return MODELS[name](num_classes=num_classes, **kwargs)
