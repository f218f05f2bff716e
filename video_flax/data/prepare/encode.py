"""One video -> one prepared record, or the reason it is skipped.

Decodes (decode.py) at the stored rate and size, computes TV-L1 flow when
asked (flow.py) and packs JPEG frames into a record (video_records.py).
Runs in the worker processes of shards.py; with the JAX flow backend the
worker returns the decoded video and the main process, which owns the
accelerator, adds the flow (add_jax_flow).
"""
from __future__ import annotations

import dataclasses
from typing import Any

import cv2

from video_flax.data import video_records
from video_flax.data.prepare import decode
from video_flax.data.prepare import flow as flow_lib
from video_flax.data.prepare import listing


@dataclasses.dataclass(frozen=True)
class PrepareOptions:
  """How videos are stored (the plan: a resumed run must use the same)."""
  fps: float | None = 25.0  # None: keep each video's own rate
  short_side: int | None = 256  # None: keep the decoded size
  flow: bool = False
  flow_backend: str = "jax"  # flow.BACKENDS: jax (video_flax.flow) | opencv
  min_frames: int = 8  # fewer frames (at fps) = skipped as too_short
  jpeg_quality: int = 90
  shard_size: int = 64  # videos per shard


@dataclasses.dataclass(frozen=True)
class Task:
  entry_index: int
  entry: listing.VideoEntry
  options: PrepareOptions


@dataclasses.dataclass(frozen=True)
class Result:
  entry_index: int
  record: bytes | None
  skip: dict[str, Any] | None  # {'reason', 'detail'} when skipped
  needs_flow: dict[str, Any] | None = None  # record fields, JAX flow to add


def encode_entry(task: Task) -> Result:
  """Decodes one video into a record, or says why it is skipped. Never raises
  for a bad video: anything unexpected is reported as undecodable."""
  entry, options = task.entry, task.options
  try:
    if entry.path is None:
      raise decode.VideoDecodeError(
          entry.video_id, "missing",
          "listed in the annotations but no file of that name under the root")
    video = decode.decode_video(
        entry.path, fps=options.fps, short_side=options.short_side,
        start_s=entry.start_s, end_s=entry.end_s)
    if len(video.frames) < options.min_frames:
      raise decode.VideoDecodeError(
          entry.path, "too_short", f"{len(video.frames)} frames at "
          f"{video.fps:g} fps, fewer than --min_frames {options.min_frames}")
    fields = dict(video_id=entry.video_id, label=entry.label, fps=video.fps,
                  frames=video.frames, jpeg_quality=options.jpeg_quality)
    if options.flow and options.flow_backend == "jax":
      return Result(task.entry_index, None, None, needs_flow=fields)
    flow = (flow_lib.tvl1_flow(video.frames, backend="opencv")
            if options.flow else None)
    record = video_records.encode_record(flow=flow, **fields)
    return Result(task.entry_index, record, None)
  except decode.VideoDecodeError as e:
    return Result(task.entry_index, None, {"reason": e.reason,
                                            "detail": e.detail})
  except Exception as e:  # pylint: disable=broad-except
    return Result(task.entry_index, None, {
        "reason": "undecodable", "detail": f"{type(e).__name__}: {e}"})


def add_jax_flow(result: Result, batch_size: int | None) -> Result:
  """A decoded video's record with its TV-L1 flow computed by JAX on the
  default device, `batch_size` frame pairs per call (None: by platform)."""
  fields = result.needs_flow
  flow = flow_lib.tvl1_flow(fields["frames"], backend="jax",
                            batch_size=batch_size)
  return Result(result.entry_index,
                video_records.encode_record(flow=flow, **fields), None)


def init_worker() -> None:
  cv2.setNumThreads(1)  # one video per process; threads would oversubscribe
