"""The resumable, parallel preparation of a dataset into ArrayRecord shards.

Every video of every split/fold is encoded once (encode.py) in worker
processes, with a progress bar. Each finished shard leaves a `.done.json`
marker, so re-running the same command after an interruption continues with
the unfinished shards; plan.json makes sure a resumed run uses the same
options. Videos that cannot be used (missing, truncated, zero-length,
undecodable, too short, not a video) are left out and listed in
skipped.json / skipped.csv with the reason.
"""
from __future__ import annotations

import collections
import csv
import dataclasses
import hashlib
import json
import math
import multiprocessing
import os
from typing import Any, Callable, Iterable, Sequence

import tqdm
from array_record.python import array_record_module

from video_flax import errors
from video_flax.data import video_records
from video_flax.data.prepare import encode
from video_flax.data.prepare import flow as flow_lib
from video_flax.data.prepare import hmdb51
from video_flax.data.prepare import kinetics
from video_flax.data.prepare import listing as listing_lib
from video_flax.data.prepare import ucf101

LISTERS: dict[str, Callable[[str], listing_lib.DatasetListing]] = {
    "kinetics": kinetics.list_kinetics,
    "ucf101": ucf101.list_ucf101,
    "hmdb51": hmdb51.list_hmdb51,
}
PLAN_FILE = "plan.json"


def _shard_name(i: int, n: int) -> str:
  return f"videos-{i:05d}-of-{n:05d}.array_record"


def _plan(dataset: str, listing: listing_lib.DatasetListing,
          options: encode.PrepareOptions) -> dict[str, Any]:
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
      raise errors.UsageError(
          f"{out} holds a preparation with different {', '.join(diffs)} "
          f"(was {[old.get(k) for k in diffs]}, now "
          f"{[plan[k] for k in diffs]}); use another --out or delete {out}")
  else:
    video_records.write_json(path, plan)


def _run(tasks: Sequence[encode.Task], num_workers: int
         ) -> Iterable[encode.Result]:
  """Results in task order, computed in `num_workers` processes."""
  if num_workers <= 1:
    encode.init_worker()
    yield from map(encode.encode_entry, tasks)
    return
  # spawn: workers must not inherit a parent's JAX/thread state through fork.
  context = multiprocessing.get_context("spawn")
  with context.Pool(num_workers, initializer=encode.init_worker) as pool:
    yield from pool.imap(encode.encode_entry, tasks, chunksize=1)


def _write_shards(out: str, listing: listing_lib.DatasetListing,
                  options: encode.PrepareOptions, num_workers: int,
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
  tasks = [encode.Task(i, e, options) for i, e in enumerate(listing.entries)
           if shard_of(i) not in done]
  bar = tqdm.tqdm(total=n, initial=n - len(tasks), unit="video",
                  desc=f"prepare {listing.name}", disable=not progress)
  writer, written, skipped = None, [], []
  for result in _run(tasks, num_workers):
    if result.needs_flow is not None:
      result = encode.add_jax_flow(result, flow_batch_size)
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


def _write_skip_report(out: str, listing: listing_lib.DatasetListing,
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
                    options: encode.PrepareOptions = encode.PrepareOptions(), *,
                    num_workers: int = 1, progress: bool = True,
                    flow_batch_size: int | None = None
                    ) -> video_records.PreparedInfo:
  """Prepares `dataset` found under `root` into `out` (resumable).

  With options.flow_backend 'jax', the workers decode and this process
  computes the flow on the default JAX device, `flow_batch_size` frame
  pairs per call (None: 1 on CPU, 32 on an accelerator).

  Returns the PreparedInfo also written to out/info.json.
  """
  if dataset not in LISTERS:
    raise ValueError(f"Unknown dataset {dataset!r}; known: "
                     f"{', '.join(LISTERS)}")
  if options.flow_backend not in flow_lib.BACKENDS:
    raise ValueError(f"flow_backend must be one of {flow_lib.BACKENDS}, got "
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
