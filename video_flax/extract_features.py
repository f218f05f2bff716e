"""Penultimate features of video files from converted weights.

  python -m video_flax.extract_features --weights=DIR --out=DIR VIDEO ...

Per video: the pooled input of the classifier (video_flax/features.py),
averaged over the test views its weights' preprocessing says, saved as
OUT/<name>.npy (float32 [D]); with --per_clip also OUT/<name>.clips.npy
(float32 [clips, D], each clip averaged over its crops). OUT/index.json
lists every video with its feature files, shapes and status ('ok' or the
reason it was skipped). A progress line per video goes to stderr; the exit
code is 1 when a video was skipped.
"""
from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Sequence

from absl import flags
import numpy as np

from video_flax import errors
from video_flax import features
from video_flax import video_cli

FLAGS = flags.FLAGS
video_cli.define_flags()
flags.DEFINE_string("out", None, "Directory for the .npy files and "
                    "index.json.")
flags.DEFINE_bool("per_clip", False, "Also save per-clip features.")
flags.mark_flag_as_required("out")

INDEX_FILE = "index.json"


def _save(out: str, name: str, array: np.ndarray) -> dict[str, Any]:
  np.save(os.path.join(out, name), array.astype(np.float32))
  return {"file": name, "shape": list(array.shape)}


def extract_one(runner: features.ViewRunner, views: Any, out: str, name: str,
                per_clip: bool) -> dict[str, Any]:
  """Saves one video's features; returns its index entry fields."""
  _, feats = runner(views.inputs)
  entry = {"status": "ok", **video_cli.describe(views)}
  video = _save(out, name + ".npy", feats.mean(axis=0))
  entry.update(features=video["file"], shape=video["shape"])
  if per_clip:
    clips = feats.reshape(views.clips, -1, feats.shape[-1]).mean(axis=1)
    clip = _save(out, name + ".clips.npy", clips)
    entry.update(clip_features=clip["file"], clip_shape=clip["shape"])
  return entry


def main(argv: Sequence[str]) -> None:
  videos = argv[1:]
  if not videos:
    raise errors.UsageError("give at least one VIDEO after the flags")
  runner, info = video_cli.load_runner(FLAGS.weights, FLAGS.batch_size)
  video_cli.output_dir("out", FLAGS.out)
  index, used, start = [], set(), time.time()
  for i, path in enumerate(videos, 1):
    views, error = video_cli.read_views(path, info)
    if views is None:
      index.append({"video": path, "status": error})
    else:
      name = video_cli.unique_name(path, used, "")
      index.append({"video": path, **extract_one(runner, views, FLAGS.out,
                                                 name, FLAGS.per_clip)})
    print(f"[{i}/{len(videos)}] {time.time() - start:.1f}s {path}: "
          f"{index[-1]['status']}", file=sys.stderr, flush=True)
  with open(os.path.join(FLAGS.out, INDEX_FILE), "w") as f:
    json.dump({"weights": FLAGS.weights, "model": info.model,
               "videos": index}, f, indent=1)
  skipped = [e["video"] for e in index if e["status"] != "ok"]
  print(f"{len(videos) - len(skipped)} of {len(videos)} videos -> "
        f"{os.path.join(FLAGS.out, INDEX_FILE)}", file=sys.stderr)
  if skipped:
    print("skipped: " + ", ".join(skipped), file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
  errors.run(main)
