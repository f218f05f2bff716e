"""Grain sources over prepared shards and the decode + augment steps.

Training: `RecordSource` (one split, random access) -> grain shuffle/repeat/
shard -> `train_example` random map (clip sampling, JPEG decode of just the
frames used, scale-jittered random crop, flip, normalisation; deterministic
given grain's per-element rng) -> batch.

Testing: `MultiViewSource` expands each video into clips x crops views
(consecutive elements), and `view_example` decodes one view; every view
carries its video's position as 'video_index', so scores can be averaged
per video (see video_flax/multiview.py).
"""
from __future__ import annotations

import dataclasses
import functools
import json
import os
from typing import Any

import grain
import numpy as np

from video_flax.data import augment
from video_flax.data import clip_sampling
from video_flax.data import video_records


class PreparedDataset:
  """A prepared directory (see video_records.py): info, splits, sources."""

  def __init__(self, directory: str):
    self.directory = directory
    self.info = video_records.PreparedInfo.load(directory)
    with open(os.path.join(directory, video_records.SPLITS_FILE)) as f:
      self.splits: dict[str, list[int]] = json.load(f)
    self.shard_paths = [os.path.join(directory, video_records.SHARD_DIR, s)
                        for s in self.info.shards]

  def resolve_split(self, split: str, fold: int) -> str:
    """'train' with fold 2 -> 'train2' for fold-based sets; names as stored
    otherwise (Kinetics: train, val, test)."""
    for name in (split, f"{split}{fold}"):
      if name in self.splits:
        return name
    raise ValueError(f"split {split!r} (fold {fold}) not in {self.directory}; "
                     f"available: {', '.join(sorted(self.splits))}")

  def source(self, split: str, fold: int = 1) -> "RecordSource":
    name = self.resolve_split(split, fold)
    if not self.splits[name]:
      raise ValueError(f"split {name!r} of {self.directory} has no videos "
                       f"(see skipped.csv there)")
    return RecordSource(self.shard_paths, self.splits[name])


class RecordSource(grain.sources.RandomAccessDataSource):
  """Record bytes of one split, in split order; picklable for grain workers."""

  def __init__(self, shard_paths: list[str], indices: list[int]):
    self._records = grain.sources.ArrayRecordDataSource(shard_paths)
    self._indices = np.asarray(indices, np.int64)

  def __len__(self) -> int:
    return len(self._indices)

  def __getitem__(self, index: int) -> bytes:
    return self._records[int(self._indices[index])]

  def __repr__(self) -> str:
    return f"RecordSource({len(self)} videos)"


@dataclasses.dataclass(frozen=True)
class ClipOptions:
  """How clips are cut from records (built from config.dataset)."""
  train_clip: clip_sampling.ClipSpec
  test_clip: clip_sampling.ClipSpec
  num_test_clips: int
  crop_size: int
  keys: tuple[str, ...] = ("video",)  # dataset_api.stream_keys
  short_video: str = "loop"
  scale_jitter: tuple[int, int] | None = None  # short side range; None = no
  flip: bool = True
  normalization: str = "minus_one_one"
  eval_crop: str = "three"  # center | three | full

  def __post_init__(self):
    choices = {"short_video": clip_sampling.SHORT_VIDEO_MODES,
               "normalization": tuple(augment.NORMALIZATIONS),
               "eval_crop": augment.EVAL_CROPS}
    problems = [f"dataset.{k}={getattr(self, k)!r} is not one of {v}"
                for k, v in choices.items() if getattr(self, k) not in v]
    jitter = self.scale_jitter
    if jitter and not (len(jitter) == 2 and 0 < jitter[0] <= jitter[1]):
      problems.append(f"dataset.scale_jitter={self.scale_jitter} must be () or "
                      f"(lo, hi) with 0 < lo <= hi")
    if self.num_test_clips < 1 or self.crop_size < 1:
      problems.append(f"num_test_clips={self.num_test_clips} and crop_size="
                      f"{self.crop_size} must be >= 1")
    if problems:
      raise ValueError("Invalid dataset config:\n  " + "\n  ".join(problems))

  @property
  def num_crops(self) -> int:
    return 3 if self.eval_crop == "three" else 1


def _cut(record: dict[str, Any], clip: clip_sampling.ClipIndices,
         options: ClipOptions, box: augment.Box, size: tuple[int, int],
         flip: bool) -> dict[str, np.ndarray]:
  """Decodes the frames of one clip and cuts them (augment.cut_clip); the
  frames are cut to the box as they are decoded, so only its pixels are
  stacked (and, for flow, converted to float)."""
  out = {"label": np.int32(record["label"])}
  cut = functools.partial(augment.cut_clip, augment.Box(0, 0, box.height,
                                                        box.width),
                          size, flip=flip, normalization=options.normalization)
  window = augment.box_window(box)
  if "video" in options.keys:
    out.update(cut(video=video_records.decode_frames(
        record, clip.rgb.tolist(), window)))
  if "flow" in options.keys:
    # RGB-only presets (flow_per_frame 0) read one flow frame per RGB frame.
    indices = (clip.flow if len(clip.flow) else clip.rgb).tolist()
    # Without a resize the flip is done on the bytes, before float conversion.
    early = flip and (box.height, box.width) == tuple(size)
    out.update(cut(flow=video_records.decode_flow(record, indices, window,
                                                  mirror=early),
                   flip=flip and not early))
  return out


def train_example(data: bytes, options: ClipOptions,
                  rng: np.random.Generator) -> dict[str, np.ndarray]:
  """One training clip from record bytes.

  Returns:
    'video' float32 [T, crop, crop, 3] and/or 'flow' float32
    [T * flow_per_frame, crop, crop, 2], 'label' int32 [].
  """
  record = video_records.decode_record(data)
  clip = clip_sampling.random_clip(options.train_clip, record["num_frames"],
                                   record["fps"], rng, options.short_video)
  box = augment.random_crop_box(record["height"], record["width"],
                                   options.crop_size, options.scale_jitter, rng)
  flip = options.flip and bool(rng.integers(0, 2))
  return _cut(record, clip, options, box, (options.crop_size,) * 2, flip)


def view_example(element: dict[str, Any], options: ClipOptions
                 ) -> dict[str, np.ndarray]:
  """One test view of a MultiViewSource element: clip view // num_crops,
  crop view % num_crops, no flip; 'video_index' int32 [] names the video."""
  record = video_records.decode_record(element["record"])
  view = element["view"]
  clips = clip_sampling.view_clips(options.test_clip, record["num_frames"],
                                   record["fps"], options.num_test_clips,
                                   options.short_video)
  boxes = augment.view_crop_boxes(record["height"], record["width"],
                                     options.eval_crop)
  clip, box = clips[view // len(boxes)], boxes[view % len(boxes)]
  size = augment.eval_output_size(options.crop_size, options.eval_crop)
  out = _cut(record, clip, options, box, size, flip=False)
  out["video_index"] = np.int32(element["video_index"])
  return out


class MultiViewSource(grain.sources.RandomAccessDataSource):
  """Each video of `source` repeated as num_views consecutive elements."""

  def __init__(self, source: RecordSource, num_views: int):
    self._source = source
    self.num_views = num_views

  def __len__(self) -> int:
    return len(self._source) * self.num_views

  def __getitem__(self, index: int) -> dict[str, Any]:
    video, view = divmod(int(index), self.num_views)
    return {"record": self._source[video], "video_index": video, "view": view}
