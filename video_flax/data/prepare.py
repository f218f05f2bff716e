"""Turns a downloaded dataset folder into prepared ArrayRecord shards.

    python -m video_flax.data.prepare --dataset ucf101 --root ~/UCF101 \\
        --out ~/data/ucf101 [--fps 25] [--short_side 256] [--flow] \\
        [--flow_backend jax|opencv] [--num_workers 8]

Every video of every split/fold is decoded once (resampled to --fps,
resized to --short_side), stored as JPEG frames (and TV-L1 flow with
--flow) in the record format of video_records.py. Videos are processed in
parallel worker processes with a progress bar; with --flow_backend jax (the
default) the workers decode and this process computes the flow on the
default JAX device, frame pairs batched. Each finished shard leaves a
`.done.json` marker, so re-running the same command after an interruption
continues with the unfinished shards. Videos that cannot be used (missing,
truncated, zero-length, undecodable, too short, not a video) are left out
and listed in skipped.json / skipped.csv with the reason.
"""
from __future__ import annotations

import argparse
import collections
import csv
import dataclasses
import hashlib
import json
import math
import multiprocessing
import os
import sys
from typing import Any, Callable, Iterable, Sequence

import cv2
import tqdm
from array_record.python import array_record_module

from video_flax.data import hmdb51
from video_flax.data import kinetics
from video_flax.data import optical_flow
from video_flax.data import ucf101
from video_flax.data import video_decode
from video_flax.data import video_listing
from video_flax.data import video_records

LISTERS: dict[str, Callable[[str], video_listing.DatasetListing]] = {
    "kinetics": kinetics.list_kinetics,
    "ucf101": ucf101.list_ucf101,
    "hmdb51": hmdb51.list_hmdb51,
}
PLAN_FILE = "plan.json"


@dataclasses.dataclass(frozen=True)
class PrepareOptions:
  """How videos are stored (the plan: a resumed run must use the same)."""
  fps: float | None = 25.0  # None: keep each video's own rate
  short_side: int | None = 256  # None: keep the decoded size
  flow: bool = False
  flow_backend: str = "jax"  # jax (video_flax.flow) | opencv (cv2.optflow)
  min_frames: int = 8  # fewer frames (at fps) = skipped as too_short
  jpeg_quality: int = 90
  shard_size: int = 64  # videos per shard


@dataclasses.dataclass(frozen=True)
class _Task:
  entry_index: int
  entry: video_listing.VideoEntry
  options: PrepareOptions


@dataclasses.dataclass(frozen=True)
class _Result:
  entry_index: int
  record: bytes | None
  skip: dict[str, Any] | None  # {'reason', 'detail'} when skipped
  # JAX flow: the record's fields, flow still to compute (by the main
  # process, which owns the accelerator and batches the frame pairs).
  needs_flow: dict[str, Any] | None = None


def encode_entry(task: _Task) -> _Result:
  """Decodes one video into a record, or says why it is skipped. Never raises
  for a bad video: anything unexpected is reported as undecodable."""
  entry, options = task.entry, task.options
  try:
    if entry.path is None:
      raise video_decode.VideoDecodeError(
          entry.video_id, "missing",
          "listed in the annotations but no file of that name under the root")
    video = video_decode.decode_video(
        entry.path, fps=options.fps, short_side=options.short_side,
        start_s=entry.start_s, end_s=entry.end_s)
    if len(video.frames) < options.min_frames:
      raise video_decode.VideoDecodeError(
          entry.path, "too_short", f"{len(video.frames)} frames at "
          f"{video.fps:g} fps, fewer than --min_frames {options.min_frames}")
    fields = dict(video_id=entry.video_id, label=entry.label, fps=video.fps,
                  frames=video.frames, jpeg_quality=options.jpeg_quality)
    if options.flow and options.flow_backend == "jax":
      return _Result(task.entry_index, None, None, needs_flow=fields)
    flow = (optical_flow.tvl1_flow(video.frames, backend="opencv")
            if options.flow else None)
    record = video_records.encode_record(flow=flow, **fields)
    return _Result(task.entry_index, record, None)
  except video_decode.VideoDecodeError as e:
    return _Result(task.entry_index, None, {"reason": e.reason,
                                            "detail": e.detail})
  except Exception as e:  # pylint: disable=broad-except
    return _Result(task.entry_index, None, {
        "reason": "undecodable", "detail": f"{type(e).__name__}: {e}"})


def _add_jax_flow(result: _Result, batch_size: int | None) -> _Result:
  """Computes a decoded video's TV-L1 flow with JAX and encodes its record."""
  fields = result.needs_flow
  flow = optical_flow.tvl1_flow(fields["frames"], backend="jax",
                                batch_size=batch_size)
  return _Result(result.entry_index,
                 video_records.encode_record(flow=flow, **fields), None)


def _init_worker() -> None:
  cv2.setNumThreads(1)  # one video per process; threads would oversubscribe


def _shard_name(i: int, n: int) -> str:
  return f"videos-{i:05d}-of-{n:05d}.array_record"


def _plan(dataset: str, listing: video_listing.DatasetListing,
          options: PrepareOptions) -> dict[str, Any]:
  entries = [dataclasses.asdict(e) for e in listing.entries]
  digest = hashlib.sha1(json.dumps([entries, listing.splits],
                                   sort_keys=True).encode()).hexdigest()
  return {"dataset": dataset, "options": dataclasses.asdict(options),
          "num_entries": len(entries), "listing_sha1": digest}


def _check_or_write_plan(out: str, plan: dict[str, Any]) -> None:
  """Writes plan.json, or checks that a resumed run matches it."""
  path = os.path.join(out, PLAN_FILE)
  if os.path.exists(path):
    with open(path) as f:
      old = json.load(f)
    if old != plan:
      diffs = [k for k in plan if plan[k] != old.get(k)]
      raise ValueError(
          f"{out} holds a preparation with different {', '.join(diffs)} "
          f"(was {[old.get(k) for k in diffs]}, now "
          f"{[plan[k] for k in diffs]}); use another --out or delete {out}")
  else:
    video_records.write_json(path, plan)


def _run(tasks: Sequence[_Task], num_workers: int) -> Iterable[_Result]:
  """Results in task order, computed in `num_workers` processes."""
  if num_workers <= 1:
    _init_worker()
    yield from map(encode_entry, tasks)
    return
  # spawn: workers must not inherit a parent's JAX/thread state through fork.
  context = multiprocessing.get_context("spawn")
  with context.Pool(num_workers, initializer=_init_worker) as pool:
    yield from pool.imap(encode_entry, tasks, chunksize=1)


def _write_shards(out: str, listing: video_listing.DatasetListing,
                  options: PrepareOptions, num_workers: int,
                  progress: bool, flow_batch_size: int | None
                  ) -> list[dict[str, Any]]:
  """Writes the unfinished shards; returns every shard's done marker."""
  shard_dir = os.path.join(out, video_records.SHARD_DIR)
  os.makedirs(shard_dir, exist_ok=True)
  n = len(listing.entries)
  num_shards = math.ceil(n / options.shard_size)
  shard_of = lambda i: i // options.shard_size
  paths = [os.path.join(shard_dir, _shard_name(s, num_shards))
           for s in range(num_shards)]
  done = {s for s in range(num_shards)
          if os.path.exists(paths[s] + ".done.json")}
  tasks = [_Task(i, e, options) for i, e in enumerate(listing.entries)
           if shard_of(i) not in done]
  bar = tqdm.tqdm(total=n, initial=n - len(tasks), unit="video",
                  desc=f"prepare {listing.name}", disable=not progress)
  writer, written, skipped = None, [], []
  for result in _run(tasks, num_workers):
    if result.needs_flow is not None:
      result = _add_jax_flow(result, flow_batch_size)
    shard = shard_of(result.entry_index)
    if writer is None:
      writer = array_record_module.ArrayRecordWriter(paths[shard] + ".tmp",
                                                     "group_size:1")
    if result.record is None:
      entry = listing.entries[result.entry_index]
      skipped.append({"entry": result.entry_index, "video_id": entry.video_id,
                      "path": entry.path, **result.skip})
    else:
      writer.write(result.record)
      written.append(result.entry_index)
    bar.update(1)
    last_of_shard = min((shard + 1) * options.shard_size, n) - 1
    if result.entry_index == last_of_shard:
      writer.close()
      os.replace(paths[shard] + ".tmp", paths[shard])
      video_records.write_json(paths[shard] + ".done.json",
                               {"written": written, "skipped": skipped})
      writer, written, skipped = None, [], []
  bar.close()
  markers = []
  for path in paths:
    with open(path + ".done.json") as f:
      markers.append(json.load(f))
  return markers


def _write_skip_report(out: str, listing: video_listing.DatasetListing,
                       skipped: list[dict[str, Any]]) -> None:
  membership = collections.defaultdict(list)
  for split, indices in listing.splits.items():
    for i in indices:
      membership[i].append(split)
  rows = [{**s, "splits": membership[s["entry"]]} for s in skipped]
  video_records.write_json(os.path.join(out, "skipped.json"), rows)
  with open(os.path.join(out, "skipped.csv"), "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["video_id", "path", "reason", "detail", "splits"])
    for r in rows:
      writer.writerow([r["video_id"], r["path"] or "", r["reason"], r["detail"],
                       " ".join(r["splits"])])


def prepare_dataset(dataset: str, root: str, out: str,
                    options: PrepareOptions = PrepareOptions(), *,
                    num_workers: int = 1, progress: bool = True,
                    flow_batch_size: int | None = None
                    ) -> video_records.PreparedInfo:
  """Prepares `dataset` found under `root` into `out` (resumable).

  With options.flow_backend 'jax', workers decode and this process computes
  the flow on the default JAX device, `flow_batch_size` frame pairs per call
  (None: 1 on CPU, 32 on an accelerator).

  Returns the PreparedInfo also written to out/info.json.
  """
  if dataset not in LISTERS:
    raise ValueError(f"Unknown dataset {dataset!r}; known: "
                     f"{', '.join(LISTERS)}")
  if options.flow_backend not in ("jax", "opencv"):
    raise ValueError(f"flow_backend must be 'jax' or 'opencv', got "
                     f"{options.flow_backend!r}")
  listing = LISTERS[dataset](root)
  if not listing.entries:
    raise ValueError(f"the annotation files under {root} list no videos")
  os.makedirs(out, exist_ok=True)
  _check_or_write_plan(out, _plan(dataset, listing, options))
  markers = _write_shards(out, listing, options, num_workers, progress,
                          flow_batch_size)
  record_of: dict[int, int] = {}
  for marker in markers:
    for entry_index in marker["written"]:
      record_of[entry_index] = len(record_of)
  splits = {name: [record_of[i] for i in indices if i in record_of]
            for name, indices in listing.splits.items()}
  skipped = [s for m in markers for s in m["skipped"]]
  _write_skip_report(out, listing, skipped)
  video_records.write_json(os.path.join(out, video_records.SPLITS_FILE), splits)
  num_shards = len(markers)
  info = video_records.PreparedInfo(
      dataset=dataset, class_names=listing.class_names, fps=options.fps,
      short_side=options.short_side, flow=options.flow,
      shards=tuple(_shard_name(s, num_shards) for s in range(num_shards)),
      num_records=len(record_of),
      split_sizes={k: len(v) for k, v in splits.items()},
      skipped=dict(collections.Counter(s["reason"] for s in skipped)))
  info.save(out)
  return info


def main(argv: Sequence[str] | None = None) -> None:
  parser = argparse.ArgumentParser(
      prog="python -m video_flax.data.prepare", description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--dataset", required=True, choices=sorted(LISTERS))
  parser.add_argument("--root", required=True,
                      help="the downloaded folder (videos and annotations)")
  parser.add_argument("--out", required=True, help="prepared output folder")
  parser.add_argument("--fps", type=float, default=25.0,
                      help="stored frame rate; 0 keeps each video's own rate")
  parser.add_argument("--short_side", type=int, default=256,
                      help="stored shorter side in pixels; 0 keeps the size")
  parser.add_argument("--flow", action="store_true",
                      help="also compute and store TV-L1 optical flow")
  parser.add_argument("--flow_backend", choices=("jax", "opencv"),
                      default="jax", help="TV-L1 in JAX on the default "
                      "device (equal to OpenCV's within ~0.01 px) or OpenCV")
  parser.add_argument("--flow_batch_size", type=int, default=0,
                      help="frame pairs per JAX flow call; 0: 1 on CPU, 32 "
                      "on an accelerator")
  parser.add_argument("--min_frames", type=int, default=8)
  parser.add_argument("--jpeg_quality", type=int, default=90)
  parser.add_argument("--shard_size", type=int, default=64)
  parser.add_argument("--num_workers", type=int, default=os.cpu_count() or 1)
  parser.add_argument("--no_progress", action="store_true")
  args = parser.parse_args(argv)
  options = PrepareOptions(
      fps=args.fps or None, short_side=args.short_side or None, flow=args.flow,
      flow_backend=args.flow_backend, min_frames=args.min_frames, jpeg_quality=args.jpeg_quality,
      shard_size=args.shard_size)
  info = prepare_dataset(args.dataset, args.root, args.out, options,
                         num_workers=args.num_workers,
                         progress=not args.no_progress,
                         flow_batch_size=args.flow_batch_size or None)
  print(f"{info.num_records} videos in {len(info.shards)} shards under "
        f"{args.out}; splits {info.split_sizes}; skipped {info.skipped or 0} "
        f"(see {os.path.join(args.out, 'skipped.csv')})", file=sys.stderr)


if __name__ == "__main__":
  main()
