"""Turns a downloaded dataset folder into prepared ArrayRecord shards.

    python -m video_flax.data.prepare --dataset ucf101 --root ~/UCF101 \\
        --out ~/data/ucf101 [--fps 25] [--short_side 256] [--flow] \\
        [--flow_backend jax|opencv] [--num_workers 8] [--noprogress]

Every video of every split/fold is decoded once (resampled to --fps,
resized to --short_side), stored as JPEG frames (and TV-L1 flow with
--flow) in the record format of video_records.py, in parallel worker
processes (with --flow_backend jax, the default, this process computes the
flow on the default JAX device, frame pairs batched). Re-running the same
command after an interruption continues with the unfinished shards;
unusable videos are listed in skipped.json / skipped.csv with the reason
(see shards.py).
"""
from __future__ import annotations

import os
import sys
from typing import Sequence

from absl import app
from absl import flags

from video_flax import errors
from video_flax.data.prepare import encode
from video_flax.data.prepare import flow as flow_lib
from video_flax.data.prepare import shards

_DATASET = flags.DEFINE_enum("dataset", None, sorted(shards.LISTERS),
                             "Which dataset's layout --root holds.")
_ROOT = flags.DEFINE_string("root", None,
                            "The downloaded folder (videos and annotations).")
_OUT = flags.DEFINE_string("out", None, "Prepared output folder.")
_FPS = flags.DEFINE_float("fps", 25.0, "Stored frame rate; 0 keeps each "
                          "video's own rate.")
_SHORT_SIDE = flags.DEFINE_integer("short_side", 256, "Stored shorter side "
                                   "in pixels; 0 keeps the size.")
_FLOW = flags.DEFINE_bool("flow", False,
                          "Also compute and store TV-L1 optical flow.")
_FLOW_BACKEND = flags.DEFINE_enum(
    "flow_backend", "jax", list(flow_lib.BACKENDS),
    "TV-L1 in JAX on the default device (equal to OpenCV's within ~0.01 px; "
    "docs/optical_flow.md) or OpenCV's cv2.optflow in the workers.")
_FLOW_BATCH_SIZE = flags.DEFINE_integer(
    "flow_batch_size", 0, "Frame pairs per JAX flow call; 0: 1 on CPU, 32 "
    "on an accelerator.")
_MIN_FRAMES = flags.DEFINE_integer("min_frames", 8, "Videos with fewer "
                                   "frames (at --fps) are skipped.")
_JPEG_QUALITY = flags.DEFINE_integer("jpeg_quality", 90, "JPEG quality.")
_SHARD_SIZE = flags.DEFINE_integer("shard_size", 64, "Videos per shard.")
_NUM_WORKERS = flags.DEFINE_integer("num_workers", os.cpu_count() or 1,
                                    "Worker processes.")
_PROGRESS = flags.DEFINE_bool("progress", True, "Show a progress bar.")
_RANGES = ((_FPS, 0, 1000), (_SHORT_SIDE, 0, 8192), (_MIN_FRAMES, 1, None),
           (_JPEG_QUALITY, 1, 100), (_SHARD_SIZE, 1, None),
           (_NUM_WORKERS, 0, None))
flags.mark_flags_as_required(["dataset", "root", "out"])


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
  bad = [f"--{flag.name}={flag.value} must be in [{lo}, {hi or 'inf'}]"
         for flag, lo, hi in _RANGES
         if not lo <= flag.value <= (hi or float("inf"))]
  if bad:
    raise errors.UsageError("; ".join(bad))
  options = encode.PrepareOptions(
      fps=_FPS.value or None, short_side=_SHORT_SIDE.value or None,
      flow=_FLOW.value, flow_backend=_FLOW_BACKEND.value,
      min_frames=_MIN_FRAMES.value,
      jpeg_quality=_JPEG_QUALITY.value, shard_size=_SHARD_SIZE.value)
  info = shards.prepare_dataset(_DATASET.value, _ROOT.value, _OUT.value,
                                options, num_workers=_NUM_WORKERS.value,
                                progress=_PROGRESS.value,
                                flow_batch_size=_FLOW_BATCH_SIZE.value or None)
  print(f"{info.num_records} videos in {len(info.shards)} shards under "
        f"{_OUT.value}; splits {info.split_sizes}; skipped "
        f"{info.skipped or 0} (see {os.path.join(_OUT.value, 'skipped.csv')})",
        file=sys.stderr)


if __name__ == "__main__":
  app.run(errors.guarded(main),
          flags_parser=errors.parse_flags)
