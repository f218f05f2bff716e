"""The synthetic motion dataset on disk: a TFDS builder writing ArrayRecord.

Each variant of motions.py is a builder config; a split is generated
(render.py) and written once, on first use, to
`<data_dir>/video_flax_synthetic/<variant>/<version>/` and read back without
TensorFlow (`as_data_source`). Records: 'video' uint8 [T, S, S, 3] (raw
bytes), 'flow' uint8 [T, S, S, 2] (the generator's exact flow, stored as
prepared real flow is: pixels / 20 in [-1, 1], quantised by
flow_codec.flow_to_uint8), 'label' a ClassLabel with the motion names.

data_dir: see dataset_api.resolve_data_dir. Concurrent first uses are safe:
a file lock makes one process write while the others wait, and TFDS writes
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
import numpy as np
import tensorflow_datasets as tfds

from video_flax.data import dataset_api
from video_flax.data import flow_codec
from video_flax.data.synthetic import motions
from video_flax.data.synthetic import render


class VideoFlaxSynthetic(tfds.core.GeneratorBasedBuilder):
  """Clips whose class is defined only by motion (see motions.py)."""

  # Bump when motions.py's output changes, so stale caches are not read.
  VERSION = tfds.core.Version("1.2.0")
  RELEASE_NOTES = {"1.0.0": "First release.",
                   "1.1.0": "Bright shapes on darker backgrounds, faster "
                            "spins: learnable by a tiny 3D net in minutes.",
                   "1.2.0": "The exact optical flow of every clip ('flow')."}
  BUILDER_CONFIGS = [tfds.core.BuilderConfig(name=v.name,
                                             description=v.description)
                     for v in motions.VARIANTS.values()]
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
  def variant(self) -> motions.Variant:
    return motions.get_variant(self.builder_config.name)

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
    return {split: self._generate_examples(split) for split in motions.SPLITS}

  def _generate_examples(self, split: str) -> Iterator[tuple[int, dict[str, Any]]]:
    index = 0
    for chunk in render.generate_chunks(self.variant, split):
      flows = flow_codec.flow_to_uint8(chunk["flow"]
                                         / flow_codec.FLOW_BOUND)
      for video, flow, label in zip(chunk["video"], flows, chunk["label"]):
        yield index, {"video": video, "flow": flow, "label": int(label)}
        index += 1


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
  motions.get_variant(variant)  # a clear error for unknown names
  data_dir = dataset_api.resolve_data_dir(data_dir)

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
      clips = sum(v.num_clips(s) for s in motions.SPLITS)
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
