"""benchmark_data's per-preset table: the CPU cost of one training clip of
every paper clip-sampling preset, and how many cores keep a GPU fed.

Each preset is timed on the clip its paper trains on (crop size, scale
jitter, streams), single-threaded (OpenCV set to one thread), as CPU
seconds per clip: a number that does not depend on how busy the machine
is. clips/s per core = 1 / that; a host of HOST_CORES cores delivers
HOST_CORES times it, which is compared with the training-step clips/s of
the preset's model on a GPU as measured in docs/gpu_speed.md and
docs/quo_vadis.md ("Speed on a GPU").
"""
from __future__ import annotations

import dataclasses
import os
import shutil

from array_record.python import array_record_module
import cv2
import grain
import numpy as np

from video_flax.data import video_records

HOST_CORES = 16


@dataclasses.dataclass(frozen=True)
class GpuRow:
  """A measured training rate: model, clip, card and dtype, clips/s."""
  label: str
  train_clips_per_s: float


@dataclasses.dataclass(frozen=True)
class PresetClip:
  """The training clip of a paper preset and the GPU rates that consume it.

  stored: which prepared copy it reads: 'native' (the 320x240 frames),
  'short128' (short side 128, as C3D's 128x171 frames) or 'flow' (native
  frames + flow).
  """
  crop_size: int
  scale_jitter: tuple[int, ...]
  streams: str
  stored: str
  gpu: tuple[GpuRow, ...]


_CSN32_H200 = 53.2
PRESET_CLIPS: dict[str, PresetClip] = {
    "csn_8x2": PresetClip(224, (256, 320), "rgb", "native", (
        GpuRow("ir_csn_152 32x224 H200 f32 x4 (8 frames; not measured, "
               "an upper bound)", 4 * _CSN32_H200),)),
    "csn_32x2": PresetClip(224, (256, 320), "rgb", "native", (
        GpuRow("ir_csn_152 32x224 H200 f32", _CSN32_H200),
        GpuRow("ir_csn_152 32x224 H200 bf16", 67.3))),
    "i3d": PresetClip(224, (), "rgb", "native", (
        GpuRow("i3d_rgb 64x224 H100 f32", 90.5),
        GpuRow("s3d_g 64x224 H200 f32", 93.1))),
    "c3d": PresetClip(112, (), "rgb", "short128", (
        GpuRow("c3d_bn 16x112 H200 f32", 629.0),)),
    "lstm": PresetClip(224, (), "rgb", "native", (
        GpuRow("convnet_lstm 25x224 H200 f32", 150.0),)),
    "two_stream": PresetClip(224, (), "rgb+flow", "flow", (
        GpuRow("two_stream_late_fusion H200 f32", 306.0),)),
    "fused_3d": PresetClip(224, (), "rgb+flow", "flow", (
        GpuRow("two_stream_3d_fused H200 f32", 252.0),)),
}


def stand_in_flow(frame: np.ndarray) -> np.ndarray:
  """float32 [H, W, 2] in [-1, 1] from an RGB frame: a smooth field with the
  frame's texture (so its JPEG costs what real flow's does), x ~ +0.15
  (the benchmark textures pan 3 px per frame = 3 / FLOW_BOUND)."""
  gray = cv2.GaussianBlur(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), (0, 0), 2)
  varying = gray.astype(np.float32) / 255 - 0.5
  return np.stack([0.15 + 0.1 * varying, 0.1 * varying], -1)


def copy_with_flow(prepared: str, out: str) -> None:
  """A copy of the prepared folder `prepared` whose records carry stand-in
  flow (TV-L1 on the CPU would take minutes per video; decoding it at
  training time costs the same whatever the flow is)."""
  info = video_records.PreparedInfo.load(prepared)
  os.makedirs(os.path.join(out, video_records.SHARD_DIR))
  source = grain.sources.ArrayRecordDataSource(
      [os.path.join(prepared, video_records.SHARD_DIR, s) for s in info.shards])
  name = "videos-00000-of-00001.array_record"
  writer = array_record_module.ArrayRecordWriter(
      os.path.join(out, video_records.SHARD_DIR, name), "group_size:1")
  for i in range(len(source)):
    record = video_records.decode_record(source[i])
    frames = video_records.decode_frames(record, range(record["num_frames"]))
    writer.write(video_records.encode_record(
        video_id=record["video_id"], label=record["label"], fps=record["fps"],
        frames=frames, flow=np.stack([stand_in_flow(f) for f in frames]),
        jpeg_quality=90))
  writer.close()
  shutil.copy(os.path.join(prepared, video_records.SPLITS_FILE), out)
  dataclasses.replace(info, flow=True, shards=(name,)).save(out)


def report(preset: str, cpu_ms: float) -> None:
  """Prints the preset's CPU ms / clip, clips/s per core and, per GPU row,
  HOST_CORES x clips/s per core / GPU train clips/s."""
  per_core = 1e3 / cpu_ms
  print(f"{preset:10s} {cpu_ms:9.1f} {per_core:9.1f} "
        f"{HOST_CORES * per_core:9.0f}", flush=True)
  for row in PRESET_CLIPS[preset].gpu:
    print(f"{'':10s} vs {row.label}: {row.train_clips_per_s:g} clips/s -> "
          f"{HOST_CORES * per_core / row.train_clips_per_s:.1f}x", flush=True)
