"""Kinetics-400/600/700 in the official layout.

    <root>/**/{train,validate,test}.csv   "label,youtube_id,time_start,time_end,split[,is_cc]"
    <root>/**/{youtube_id}_{time_start:06d}_{time_end:06d}.mp4  (trimmed clips,
        flat or in split/class folders; .webm/.mkv/.avi too)
  or <root>/**/{youtube_id}.mp4  (untrimmed: the CSV's segment is decoded)

Class indices are the sorted label names of the train rows (the order of
DeepMind's I3D label map). Unlabelled test rows get label -1. Splits are
named train, val and test.
"""
from __future__ import annotations

import csv

from video_flax.data.prepare import listing

_REQUIRED = ("youtube_id", "time_start", "time_end")
_SPLIT_NAMES = {"train": "train", "val": "val", "validate": "val",
                "validation": "val", "test": "test"}


def _read_rows(files: listing.FileIndex) -> list[tuple[str, dict[str, str]]]:
  """(split, row) of every annotation CSV under the root."""
  rows = []
  for name in sorted(n for n in files.by_name if n.endswith(".csv")):
    for path in files.by_name[name]:
      with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        if not set(_REQUIRED) <= set(reader.fieldnames or ()):
          continue
        default_split = _SPLIT_NAMES.get(path.stem.lower())
        for row in reader:
          split = _SPLIT_NAMES.get((row.get("split") or "").lower(),
                                   default_split)
          if split is None:
            raise ValueError(f"{path}: row {row} names no split and the file "
                             f"name is not train/validate/test.csv")
          rows.append((split, row))
  return rows


def list_kinetics(root: str) -> listing.DatasetListing:
  """Every Kinetics clip of every split under `root` (see module docstring)."""
  files = listing.FileIndex(root)
  rows = _read_rows(files)
  if not rows:
    raise FileNotFoundError(
        f"no Kinetics CSV (columns label,youtube_id,time_start,time_end,split) "
        f"under {root}")
  train_labels = {r["label"] for s, r in rows
                  if s == "train" and r.get("label")}
  class_names = tuple(sorted(train_labels or {r["label"] for _, r in rows
                                              if r.get("label")}))
  label_of = {c: i for i, c in enumerate(class_names)}
  entries: list[listing.VideoEntry] = []
  position: dict[str, int] = {}
  members: dict[str, list[int]] = {}
  for split, row in rows:
    youtube_id = row["youtube_id"]
    start, end = int(float(row["time_start"])), int(float(row["time_end"]))
    video_id = f"{youtube_id}_{start:06d}_{end:06d}"
    label_name = row.get("label") or ""
    if label_name and label_name not in label_of:
      raise ValueError(f"label {label_name!r} of {video_id} ({split}) is not "
                       f"among the {len(class_names)} train labels")
    if video_id not in position:
      trimmed = files.video(video_id, by="stem")
      untrimmed = None if trimmed else files.video(youtube_id, by="stem")
      position[video_id] = len(entries)
      entries.append(listing.VideoEntry(
          video_id=video_id, path=trimmed or untrimmed,
          label=label_of[label_name] if label_name else -1,
          start_s=float(start) if untrimmed else None,
          end_s=float(end) if untrimmed else None))
    members.setdefault(split, []).append(position[video_id])
  splits = {name: tuple(m) for name, m in sorted(members.items())}
  return listing.DatasetListing("kinetics", class_names, tuple(entries),
                                      splits)
