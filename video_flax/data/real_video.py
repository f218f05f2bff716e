"""Registry entry for prepared real datasets: kinetics, ucf101, hmdb51.

Implements dataset_api.VideoDataset over a folder written by
`python -m video_flax.data.prepare` (see video_records.py), plus
`eval_source` for multi-view testing. The `config.dataset` fields it reads:

  name            kinetics | ucf101 | hmdb51 (must match the prepared folder)
  data_dir        the prepared folder, or a folder holding it as <name>/;
                  '' = $VIDEO_FLAX_DATA_DIR/<name>
  train_split, eval_split   split names; with fold-based sets (UCF-101,
                  HMDB-51) 'train'/'test' + fold select train1/test1 etc.
  fold            1 | 2 | 3 (UCF-101, HMDB-51)
  clip_sampling   a clip_sampling.PRESETS name (csn_32x2, i3d, ...) or ''
                  for num_frames frames frame_stride apart at the stored fps
  num_frames, frame_stride, crop_size
  streams         rgb | flow | rgb+flow (batch keys 'video' / 'flow')
  short_video     loop | pad (videos shorter than a clip)
  scale_jitter    (lo, hi): train crops as if the short side were resized to
                  U[lo, hi] pixels; () = plain random crops
  flip            random horizontal flips in training (flow x negated)
  normalization   an augment.NORMALIZATIONS name ('minus_one_one' = [-1, 1])
  eval_num_clips  test clips per video; 0 = the preset's (1 without preset)
  eval_crop       center | three | full (test crops per clip: 1, 3, 1)
"""
from __future__ import annotations

import dataclasses
import functools
import os
from typing import Any

import ml_collections
import numpy as np

from video_flax.data import clip_sampling
from video_flax.data import dataset_api
from video_flax.data import video_records
from video_flax.data import video_source


def prepared_dir(cfg: ml_collections.ConfigDict) -> str:
  """cfg.data_dir if it is a prepared folder, else <data dir>/<name>."""
  if cfg.data_dir and os.path.isfile(
      os.path.join(os.path.expanduser(cfg.data_dir), video_records.INFO_FILE)):
    return os.path.abspath(os.path.expanduser(cfg.data_dir))
  return os.path.join(dataset_api.resolve_data_dir(cfg.data_dir), cfg.name)


@functools.lru_cache(maxsize=8)
def _load(directory: str, name: str) -> video_source.PreparedDataset:
  dataset = video_source.PreparedDataset(directory)
  if dataset.info.dataset != name:
    raise ValueError(f"{directory} holds prepared {dataset.info.dataset!r}, "
                     f"but config.dataset.name is {name!r}")
  return dataset


def load(cfg: ml_collections.ConfigDict) -> video_source.PreparedDataset:
  """The prepared dataset named by cfg, checked against what cfg needs."""
  dataset = _load(prepared_dir(cfg), cfg.name)
  if "flow" in dataset_api.stream_keys(cfg) and not dataset.info.flow:
    raise ValueError(f"dataset.streams={cfg.streams!r} needs optical flow, but "
                     f"{dataset.directory} was prepared without --flow")
  return dataset


REAL_VIDEO_FIELDS = ("fold", "clip_sampling", "streams", "short_video",
                     "scale_jitter", "flip", "normalization", "eval_num_clips",
                     "eval_crop")


def clip_options(cfg: ml_collections.ConfigDict) -> video_source.ClipOptions:
  """The decode/augment settings of cfg (see the module docstring)."""
  missing = [k for k in REAL_VIDEO_FIELDS if k not in cfg]
  if missing:
    raise ValueError(f"config.dataset lacks {', '.join(missing)}, needed for "
                     f"real video datasets (see docs/real_data.md)")
  keys = dataset_api.stream_keys(cfg)
  flow = "flow" in keys
  if cfg.fold < 1:
    raise ValueError(f"dataset.fold={cfg.fold} must be >= 1")
  if cfg.clip_sampling:
    preset = clip_sampling.get_preset(cfg.clip_sampling)
    train, test, num_clips = preset.train, preset.test, preset.test_clips
    if not flow:  # the flow frames would only widen the sampled window
      train = dataclasses.replace(train, flow_per_frame=0)
      test = dataclasses.replace(test, flow_per_frame=0)
  else:
    train = test = clip_sampling.ClipSpec(cfg.num_frames, cfg.frame_stride,
                                          flow_per_frame=int(flow))
    num_clips = 1
  return video_source.ClipOptions(
      train_clip=train, test_clip=test,
      num_test_clips=cfg.eval_num_clips or num_clips, crop_size=cfg.crop_size,
      keys=keys, short_video=cfg.short_video,
      scale_jitter=tuple(cfg.scale_jitter) or None, flip=cfg.flip,
      normalization=cfg.normalization, eval_crop=cfg.eval_crop)


def num_views(cfg: ml_collections.ConfigDict) -> int:
  """Test views per video (clips x crops) of eval_source."""
  options = clip_options(cfg)
  return options.num_test_clips * options.num_crops


def info(cfg: ml_collections.ConfigDict) -> dataset_api.DatasetInfo:
  """Class names; num_train / num_eval count videos (not views). Checks the
  clip settings first, so a bad value fails before any compute."""
  clip_options(cfg)
  dataset = load(cfg)
  return dataset_api.DatasetInfo(
      num_classes=dataset.info.num_classes,
      num_train=len(dataset.source(cfg.train_split, cfg.fold)),
      num_eval=len(dataset.source(cfg.eval_split, cfg.fold)),
      class_names=dataset.info.class_names)


def source(cfg: ml_collections.ConfigDict, split: str
           ) -> video_source.RecordSource:
  """Record bytes of the videos of `split` (one element per video)."""
  return load(cfg).source(split, cfg.fold)


def eval_source(cfg: ml_collections.ConfigDict, split: str
                ) -> video_source.MultiViewSource:
  """num_views(cfg) consecutive elements per video of `split`."""
  return video_source.MultiViewSource(source(cfg, split), num_views(cfg))


def train_example(cfg: ml_collections.ConfigDict, record: bytes,
                  rng: np.random.Generator) -> dict[str, np.ndarray]:
  """'video' [T, S, S, 3] and/or 'flow' [T * k, S, S, 2] float32, 'label'."""
  return video_source.train_example(record, clip_options(cfg), rng)


def eval_example(cfg: ml_collections.ConfigDict, element: Any
                 ) -> dict[str, np.ndarray]:
  """One test view of an eval_source element, with 'video_index' int32."""
  return video_source.view_example(element, clip_options(cfg))
