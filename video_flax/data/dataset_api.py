"""What a dataset in the registry (`video_flax.data.DATASETS`) provides.

The input pipeline (video_flax/data/pipeline.py) owns shuffling, repeating,
sharding by process and batching; a dataset only says where its records are
and how one record becomes one example. Adding a dataset means writing a
module with these four functions and one line in `DATASETS`; the batch keys
('video', 'flow') are what `config.dataset.streams` names (`stream_keys`).
A dataset may also define `eval_source(cfg, split)`, the records evaluation
reads instead of `source` (real videos: several test views per video, see
real_video.py).
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any, Protocol

import ml_collections
import numpy as np


# `config.dataset.streams` -> the input keys a dataset emits.
STREAMS = {"rgb": ("video",), "flow": ("flow",), "rgb+flow": ("video", "flow")}
DATA_DIR_ENV = "VIDEO_FLAX_DATA_DIR"
DEFAULT_DATA_DIR = os.path.join("~", ".cache", "video_flax",
                                "tensorflow_datasets")


def stream_keys(cfg: ml_collections.ConfigDict) -> tuple[str, ...]:
  """The batch keys `cfg.streams` names; ValueError for an unknown value.

  The one check of `config.dataset.streams`: config validation, the
  pipeline and every dataset ask it."""
  if cfg.streams not in STREAMS:
    raise ValueError(f"dataset.streams={cfg.streams!r}; known: "
                     f"{', '.join(STREAMS)}")
  return STREAMS[cfg.streams]


def resolve_data_dir(data_dir: str) -> str:
  """`data_dir`, or $VIDEO_FLAX_DATA_DIR, or the default cache, absolute."""
  chosen = data_dir or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
  return os.path.abspath(os.path.expanduser(chosen))


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
  """Sizes and class names of the splits named by a dataset config."""
  num_classes: int
  num_train: int
  num_eval: int
  class_names: tuple[str, ...]


class VideoDataset(Protocol):
  """A registry entry (a module satisfies this with module-level functions).

  `cfg` is always the `config.dataset` ConfigDict (see base_config.py).
  Examples are dicts of numpy arrays: 'label' int32 [] and the keys
  `stream_keys(cfg)` names: 'video' float32 [T, H, W, 3] and/or 'flow'
  float32 [T', H, W, 2] (see augment.py); equal shapes across records.
  """

  def info(self, cfg: ml_collections.ConfigDict) -> DatasetInfo:
    """Class names and the sizes of cfg.train_split and cfg.eval_split."""

  def source(self, cfg: ml_collections.ConfigDict, split: str
             ) -> Sequence[Any]:
    """Random-access records of `split` (len and [i]; grain-readable,
    picklable for worker processes), in a fixed order."""

  def train_example(self, cfg: ml_collections.ConfigDict, record: Any,
                    rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Decodes and augments one record; all randomness comes from `rng`."""

  def eval_example(self, cfg: ml_collections.ConfigDict, record: Any
                   ) -> dict[str, np.ndarray]:
    """Decodes one record deterministically (e.g. centre crop)."""
