"""Reads back the scalars a run wrote to `<workdir>/tensorboard`, for plots
in notebooks without TensorBoard or TensorFlow.

The event files are TFRecord files of `Event` protos (tensorboardX's
copy of TensorBoard's schema): per record a little-endian uint64 length,
its CRC, the bytes and their CRC (the CRCs are not checked here).
"""
from __future__ import annotations

import glob
import os
import struct

from tensorboardX.proto import event_pb2


def read_scalars(workdir: str) -> dict[str, list[tuple[int, float]]]:
  """{tag: [(step, value), ...] in file order} of every scalar of the run,
  e.g. 'train/loss', 'eval/top1'."""
  files = sorted(glob.glob(os.path.join(workdir, "tensorboard", "events*")))
  if not files:
    raise FileNotFoundError(
        f"no TensorBoard event files in {workdir}/tensorboard")
  scalars: dict[str, list[tuple[int, float]]] = {}
  for path in files:
    with open(path, "rb") as f:
      data = f.read()
    offset = 0
    while offset + 12 <= len(data):
      (length,) = struct.unpack("<Q", data[offset:offset + 8])
      record = data[offset + 12:offset + 12 + length]
      offset += 12 + length + 4
      event = event_pb2.Event.FromString(record)
      for value in event.summary.value:
        scalars.setdefault(value.tag, []).append(
            (int(event.step), float(value.simple_value)))
  return scalars
