"""The synthetic motion dataset on disk: a TFDS builder writing ArrayRecord.

Registry entry 'synthetic' (see dataset_api.VideoDataset). Each variant of
synthetic.py is a builder config; a split is generated and written once, on
first use, to `<data_dir>/video_flax_synthetic/<variant>/<version>/` and read
back without TensorFlow (`as_data_source`). Records: 'video' uint8
[T, S, S, 3] (raw bytes), 'flow' uint8 [T, S, S, 2] (the generator's exact
flow, stored as prepared real flow is: pixels / 20 in [-1, 1], quantised
by optical_flow.flow_to_uint8), 'label' a ClassLabel with the motion names.
`config.dataset.streams` (rgb | flow | rgb+flow) picks the batch keys
('video' / 'flow'), as for real data.

data_dir: `config.dataset.data_dir`, or when '' $VIDEO_FLAX_DATA_DIR, or
~/.cache/video_flax/tensorflow_datasets. Concurrent first uses are safe: a
file lock makes one process write while the others wait, and TFDS writes
into a temporary directory renamed when complete.
"""
from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import time
from collections.abc import Iterator
from typing import Any

from absl import logging
import ml_collections
import numpy as np
import tensorflow_datasets as tfds

from video_flax.data import dataset_api
from video_flax.data import optical_flow
from video_flax.data import synthetic
from video_flax.data import transforms

DATA_DIR_ENV = "VIDEO_FLAX_DATA_DIR"
DEFAULT_DATA_DIR = os.path.join("~", ".cache", "video_flax",
                                "tensorflow_datasets")


class VideoFlaxSynthetic(tfds.core.GeneratorBasedBuilder):
  """Clips whose class is defined only by motion (see synthetic.py)."""

  # Bump when synthetic.py's output changes, so stale caches are not read.
  VERSION = tfds.core.Version("1.2.0")
  RELEASE_NOTES = {"1.0.0": "First release.",
                   "1.1.0": "Bright shapes on darker backgrounds, faster "
                            "spins: learnable by a tiny 3D net in minutes.",
                   "1.2.0": "The exact optical flow of every clip ('flow')."}
  BUILDER_CONFIGS = [tfds.core.BuilderConfig(name=v.name,
                                             description=v.description)
                     for v in synthetic.VARIANTS.values()]
  # Where TFDS looks for download checksums; finding it for a class inside a
  # package needs `importlib_resources`, which TFDS does not install on
  # Python >= 3.9. This builder downloads nothing.
  code_path = None

  # load_builder prints what is generated where; TFDS's own lines ("Downloading
  # and preparing dataset Unknown size ...") would only mislead.
  def _log_download_bytes(self) -> None:
    pass

  def _log_download_done(self) -> None:
    pass

  @property
  def variant(self) -> synthetic.Variant:
    return synthetic.get_variant(self.builder_config.name)

  def _info(self) -> tfds.core.DatasetInfo:
    v = self.variant
    return tfds.core.DatasetInfo(
        builder=self,
        description=__doc__,
        features=tfds.features.FeaturesDict({
            "video": tfds.features.Tensor(
                shape=(v.num_frames, v.frame_size, v.frame_size, 3),
                dtype=np.uint8, encoding="bytes"),
            "flow": tfds.features.Tensor(
                shape=(v.num_frames, v.frame_size, v.frame_size, 2),
                dtype=np.uint8, encoding="bytes"),
            "label": tfds.features.ClassLabel(names=v.class_names),
        }),
        supervised_keys=("video", "label"),
        # The generator already orders clips randomly; record i is clip i.
        disable_shuffling=True)

  def _split_generators(self, dl_manager: Any) -> dict[str, Iterator[Any]]:
    del dl_manager  # nothing to download
    return {split: self._generate_examples(split) for split in synthetic.SPLITS}

  def _generate_examples(self, split: str) -> Iterator[tuple[int, dict[str, Any]]]:
    index = 0
    for chunk in synthetic.generate_chunks(self.variant, split):
      flows = optical_flow.flow_to_uint8(chunk["flow"]
                                         / optical_flow.FLOW_BOUND)
      for video, flow, label in zip(chunk["video"], flows, chunk["label"]):
        yield index, {"video": video, "flow": flow, "label": int(label)}
        index += 1


def resolve_data_dir(data_dir: str) -> str:
  """`data_dir`, or $VIDEO_FLAX_DATA_DIR, or the default cache, absolute."""
  chosen = data_dir or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
  return os.path.abspath(os.path.expanduser(chosen))


@contextlib.contextmanager
def _file_lock(path: str) -> Iterator[None]:
  with open(path, "a") as f:
    fcntl.flock(f, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(f, fcntl.LOCK_UN)


@contextlib.contextmanager
def _quiet_tfds() -> Iterator[None]:
  """Hides TFDS's progress bars and folder warnings unless absl logs INFO:
  the two lines printed here say what happens, and the rest buried them."""
  verbosity = logging.get_verbosity()
  if verbosity >= logging.INFO:
    yield
    return
  logging.set_verbosity(logging.ERROR)
  tfds.disable_progress_bar()
  try:
    yield
  finally:
    logging.set_verbosity(verbosity)
    tfds.enable_progress_bar()


@functools.lru_cache(maxsize=None)
def load_builder(data_dir: str, variant: str) -> VideoFlaxSynthetic:
  """The builder of `variant` under `data_dir`, generated first if needed."""
  with _quiet_tfds():
    return _load_builder(data_dir, variant)


def _load_builder(data_dir: str, variant: str) -> VideoFlaxSynthetic:
  synthetic.get_variant(variant)  # a clear error for unknown names
  data_dir = resolve_data_dir(data_dir)

  def make():
    return VideoFlaxSynthetic(config=variant, data_dir=data_dir,
                              file_format="array_record")

  builder = make()
  if builder.is_prepared():
    return builder
  os.makedirs(data_dir, exist_ok=True)
  with _file_lock(os.path.join(data_dir, f"{builder.name}-{variant}.lock")):
    builder = make()  # another process may have written it while we waited
    if not builder.is_prepared():
      v = builder.variant
      clips = sum(v.num_clips(s) for s in synthetic.SPLITS)
      print(f"Generating synthetic/{variant}: {clips} clips of "
            f"{v.num_frames}x{v.frame_size}x{v.frame_size}, "
            f"{len(v.classes)} classes, into {builder.data_dir}", flush=True)
      start = time.time()
      try:
        builder.download_and_prepare(file_format="array_record")
      except OSError:
        # A writer on another host (no shared lock) renamed its copy first.
        if not make().is_prepared():
          raise
      print(f"Wrote synthetic/{variant} in {time.time() - start:.1f}s",
            flush=True)
      builder = make()
  return builder


def _check_clip_fits(cfg: ml_collections.ConfigDict,
                     variant: synthetic.Variant) -> None:
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


def input_keys(cfg: ml_collections.ConfigDict) -> tuple[str, ...]:
  """The keys `dataset.streams` names (() for an unknown value)."""
  return dataset_api.STREAMS.get(cfg.streams, ())


def _check_streams(cfg: ml_collections.ConfigDict) -> None:
  if cfg.streams not in dataset_api.STREAMS:
    raise ValueError(f"dataset.streams={cfg.streams!r}; known: "
                     f"{', '.join(dataset_api.STREAMS)}")


def source(cfg: ml_collections.ConfigDict, split: str) -> Any:
  """Random-access records of `split` ('train', 'test', or a TFDS slice such
  as 'train[:90%]'): dicts with 'video' uint8 [T, S, S, 3], 'flow' uint8
  [T, S, S, 2] and 'label'."""
  _check_clip_fits(cfg, synthetic.get_variant(cfg.variant))
  _check_streams(cfg)
  builder = load_builder(cfg.data_dir, cfg.variant)
  try:
    return builder.as_data_source(split)
  except (ValueError, KeyError) as e:
    raise ValueError(f"synthetic/{cfg.variant} has no split {split!r} "
                     f"(known: {', '.join(synthetic.SPLITS)}): {e}") from e


def info(cfg: ml_collections.ConfigDict) -> dataset_api.DatasetInfo:
  builder = load_builder(cfg.data_dir, cfg.variant)
  names = tuple(builder.info.features["label"].names)
  return dataset_api.DatasetInfo(
      num_classes=len(names), num_train=len(source(cfg, cfg.train_split)),
      num_eval=len(source(cfg, cfg.eval_split)), class_names=names)


def _keep(cfg: ml_collections.ConfigDict, record: dict[str, Any]
          ) -> dict[str, np.ndarray]:
  return {k: record[k] for k in input_keys(cfg)}


def train_example(cfg: ml_collections.ConfigDict, record: dict[str, Any],
                  rng: np.random.Generator) -> dict[str, np.ndarray]:
  """Random temporal window and crop (the same for video and flow); no flip
  (left/right are classes)."""
  example = transforms.train_clips(
      _keep(cfg, record), num_frames=cfg.num_frames, stride=cfg.frame_stride,
      crop_size=cfg.crop_size, flip=False, rng=rng)
  return {**example, "label": np.int32(record["label"])}


def eval_example(cfg: ml_collections.ConfigDict, record: dict[str, Any]
                 ) -> dict[str, np.ndarray]:
  """Centred temporal window and centre crop."""
  example = transforms.eval_clips(
      _keep(cfg, record), num_frames=cfg.num_frames, stride=cfg.frame_stride,
      crop_size=cfg.crop_size)
  return {**example, "label": np.int32(record["label"])}
