"""The prepared format shared by every real dataset: one record per video.

A prepared directory holds

    info.json       dataset, class names, fps, short side, flow, shard files
    splits.json     split name -> record indices (all folds of one copy)
    skipped.json/.csv  videos left out and why
    shards/videos-XXXXX-of-YYYYY.array_record   (group_size:1, random access)

and each record is a msgpack map: video_id (str), label (int, -1 =
unlabelled), fps (float), height, width, num_frames (int), frames (list of
RGB JPEG bytes), flow (list of grayscale JPEG bytes, x|y side by side; empty
without flow). Reading needs neither TensorFlow nor the original videos.
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Sequence

import cv2
import msgpack
import numpy as np

from video_flax.data import flow_codec

FORMAT_VERSION = 1
INFO_FILE = "info.json"
SPLITS_FILE = "splits.json"
SHARD_DIR = "shards"


def encode_jpeg(frame: np.ndarray, quality: int) -> bytes:
  """uint8 RGB [H, W, 3] -> JPEG bytes."""
  ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(frame[..., ::-1]),
                         [cv2.IMWRITE_JPEG_QUALITY, quality])
  if not ok:
    raise ValueError(f"JPEG encoding failed for a frame of shape {frame.shape}")
  return buf.tobytes()


def decode_jpeg(data: bytes) -> np.ndarray:
  """JPEG bytes -> uint8 RGB [H, W, 3] (decoded straight to RGB: no BGR
  image and no colour-conversion pass)."""
  image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR_RGB)
  if image is None:
    raise ValueError("corrupt JPEG frame in a prepared record")
  return image


def encode_record(*, video_id: str, label: int, fps: float, frames: np.ndarray,
                  flow: np.ndarray | None, jpeg_quality: int) -> bytes:
  """One video -> record bytes.

  Args:
    frames: uint8 [T, H, W, 3] RGB.
    flow: float32 [T, H, W, 2] in [-1, 1] aligned with frames, or None.
  """
  return msgpack.packb({
      "video_id": video_id, "label": int(label), "fps": float(fps),
      "height": int(frames.shape[1]), "width": int(frames.shape[2]),
      "num_frames": int(frames.shape[0]),
      "frames": [encode_jpeg(f, jpeg_quality) for f in frames],
      "flow": ([] if flow is None else
               [flow_codec.encode_flow_jpeg(f, jpeg_quality) for f in flow]),
  }, use_bin_type=True)


def decode_record(data: bytes) -> dict[str, Any]:
  """Record bytes -> the map described in the module docstring."""
  return msgpack.unpackb(data, raw=False)


def decode_frames(record: dict[str, Any], indices: Sequence[int],
                  window: tuple[slice, slice] | None = None) -> np.ndarray:
  """uint8 RGB [len(indices), H, W, 3]; each distinct frame is decoded once.

  window: (rows, columns) cut from each frame as it is decoded, so only
  those pixels are copied into the stacked clip ([T, h, w, 3] then).
  """
  rows, cols = window or (slice(None), slice(None))
  cache = {i: decode_jpeg(record["frames"][i])[rows, cols]
           for i in set(indices)}
  return np.stack([cache[i] for i in indices])


def decode_flow(record: dict[str, Any], indices: Sequence[int],
                window: tuple[slice, slice] | None = None,
                mirror: bool = False) -> np.ndarray:
  """float32 [len(indices), H, W, 2] in [-1, 1]; with `window` (as in
  decode_frames) only those pixels are kept, and with `mirror` they are
  mirrored left-right (x negated), both before any float conversion."""
  if not record["flow"]:
    raise ValueError(f"record {record['video_id']!r} has no optical flow; "
                     f"prepare the dataset with --flow")
  window = window or (slice(None), slice(None))
  cache = {i: flow_codec.decode_flow_bytes(record["flow"][i], window)
           for i in set(indices)}
  q = np.stack([cache[i] for i in indices])
  if mirror:  # each row of the frames viewed as one tall 2-channel image
    q = cv2.flip(q.reshape(-1, q.shape[2], 2), 1).reshape(q.shape)
  return flow_codec.bytes_to_flow(q, negate_x=mirror)


@dataclasses.dataclass(frozen=True)
class PreparedInfo:
  """info.json of a prepared directory."""
  dataset: str
  class_names: tuple[str, ...]
  fps: float | None  # None: each video keeps its own rate
  short_side: int | None
  flow: bool
  shards: tuple[str, ...]  # file names under shards/
  num_records: int
  split_sizes: dict[str, int]
  skipped: dict[str, int]  # reason -> count
  format_version: int = FORMAT_VERSION

  @property
  def num_classes(self) -> int:
    return len(self.class_names)

  def save(self, directory: str) -> None:
    write_json(os.path.join(directory, INFO_FILE), dataclasses.asdict(self))

  @classmethod
  def load(cls, directory: str) -> "PreparedInfo":
    path = os.path.join(directory, INFO_FILE)
    if not os.path.isfile(path):
      raise FileNotFoundError(
          f"{path} not found: {directory} is not a prepared dataset (run "
          f"python -m video_flax.data.prepare --dataset ... --out {directory})")
    with open(path) as f:
      fields = json.load(f)
    if fields.get("format_version") != FORMAT_VERSION:
      raise ValueError(f"{path}: format version {fields.get('format_version')} "
                       f"!= {FORMAT_VERSION}; prepare the dataset again")
    fields["class_names"] = tuple(fields["class_names"])
    fields["shards"] = tuple(fields["shards"])
    return cls(**fields)


def write_json(path: str, value: Any) -> None:
  """Writes atomically (temp file + rename), so an interruption leaves no
  half-written file."""
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    json.dump(value, f, indent=1)
  os.replace(tmp, path)
