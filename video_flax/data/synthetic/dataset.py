"""Registry entry 'synthetic' (see dataset_api.VideoDataset).

Records come from the TFDS-built ArrayRecord files (tfds_builder.py): each
holds a whole stored clip, 'video' uint8 [T0, S, S, 3] and 'flow' uint8
[T0, S, S, 2]. An example is a window of num_frames frames frame_stride
apart (clip_sampling.window_indices) cut with one crop box for every
stream (augment.py), no flip (left and right are classes), mapped to
[-1, 1] by augment.BYTES_TO_UNIT. `config.dataset.streams` picks the keys.
"""
from __future__ import annotations

from typing import Any

import ml_collections
import numpy as np

from video_flax.data import augment
from video_flax.data import clip_sampling
from video_flax.data import dataset_api
from video_flax.data.synthetic import motions
from video_flax.data.synthetic import tfds_builder


# Dataset keys that only real video datasets read: a synthetic record is one
# fixed-length clip of square frames, trained on random windows and crops
# without flips and tested on one centred window and crop, as bytes mapped to
# [-1, 1]. config_validation rejects them set away from their defaults.
REAL_DATA_ONLY = ("clip_sampling", "scale_jitter", "flip", "normalization",
                  "eval_num_clips", "eval_crop", "short_video", "fold")


def _check_clip_fits(cfg: ml_collections.ConfigDict,
                     variant: motions.Variant) -> None:
  span = (cfg.num_frames - 1) * cfg.frame_stride + 1
  if span > variant.num_frames:
    raise ValueError(
        f"dataset.num_frames={cfg.num_frames} with frame_stride="
        f"{cfg.frame_stride} spans {span} frames; synthetic/{variant.name} "
        f"clips have {variant.num_frames}")
  if cfg.crop_size > variant.frame_size:
    raise ValueError(f"dataset.crop_size={cfg.crop_size} is larger than the "
                     f"{variant.frame_size}x{variant.frame_size} frames of "
                     f"synthetic/{variant.name}")


def source(cfg: ml_collections.ConfigDict, split: str) -> Any:
  """Random-access records of `split` ('train', 'test', or a TFDS slice such
  as 'train[:90%]'): dicts with 'video' uint8 [T, S, S, 3], 'flow' uint8
  [T, S, S, 2] and 'label'."""
  _check_clip_fits(cfg, motions.get_variant(cfg.variant))
  dataset_api.stream_keys(cfg)
  builder = tfds_builder.load_builder(cfg.data_dir, cfg.variant)
  try:
    return builder.as_data_source(split)
  except (ValueError, KeyError) as e:
    raise ValueError(f"synthetic/{cfg.variant} has no split {split!r} "
                     f"(known: {', '.join(motions.SPLITS)}): {e}") from e


def info(cfg: ml_collections.ConfigDict) -> dataset_api.DatasetInfo:
  builder = tfds_builder.load_builder(cfg.data_dir, cfg.variant)
  names = tuple(builder.info.features["label"].names)
  return dataset_api.DatasetInfo(
      num_classes=len(names), num_train=len(source(cfg, cfg.train_split)),
      num_eval=len(source(cfg, cfg.eval_split)), class_names=names)


def _example(cfg: ml_collections.ConfigDict, record: dict[str, Any],
             rng: np.random.Generator | None) -> dict[str, np.ndarray]:
  """Window and crop random with `rng`, centred without."""
  keys = dataset_api.stream_keys(cfg)
  num_stored, height, width = record[keys[0]].shape[:3]
  indices = clip_sampling.window_indices(num_stored, cfg.num_frames,
                                         cfg.frame_stride, rng)
  size = cfg.crop_size
  box = (augment.random_crop_box(height, width, size, None, rng)
         if rng is not None
         else augment.center_crop_box(height, width, size))
  flow = (augment.normalize(record["flow"][indices], augment.BYTES_TO_UNIT)
          if "flow" in keys else None)
  video = record["video"][indices] if "video" in keys else None
  example = augment.cut_clip(box, (size, size), flip=False,
                             normalization=augment.BYTES_TO_UNIT,
                             video=video, flow=flow)
  return {**example, "label": np.int32(record["label"])}


def train_example(cfg: ml_collections.ConfigDict, record: dict[str, Any],
                  rng: np.random.Generator) -> dict[str, np.ndarray]:
  """Random temporal window and crop (the same for video and flow); no flip
  (left/right are classes)."""
  return _example(cfg, record, rng)


def eval_example(cfg: ml_collections.ConfigDict, record: dict[str, Any]
                 ) -> dict[str, np.ndarray]:
  """Centred temporal window and centre crop."""
  return _example(cfg, record, None)
