"""Top-k labels of video files from converted weights.

  python -m video_flax.predict --weights=DIR VIDEO [VIDEO ...]

Each video is decoded (PyAV), cut into the test views its weights'
preprocessing says (eval_num_clips clips x eval_crop crops), and the
softmax scores are averaged over the views. A missing or undecodable file
gives one line naming it on stderr, the other videos are still predicted,
and the exit code is 1 at the end. --json prints one JSON document instead
of text; --visualize=DIR writes a contact sheet PNG per video.
"""
from __future__ import annotations

import json
import os
import sys
from typing import Any, Sequence

from absl import flags
import numpy as np

from video_flax import contact_sheet
from video_flax import errors
from video_flax import video_cli

FLAGS = flags.FLAGS
video_cli.define_flags()
flags.DEFINE_integer("top_k", 5, "Labels printed per video.")
flags.DEFINE_bool("json", False, "Print one JSON document (machine output).")
flags.DEFINE_string("visualize", "", "Write a contact sheet PNG per video "
                    "(sampled frames and top labels) into this directory.")


def video_probabilities(logits: np.ndarray) -> np.ndarray:
  """Per-view logits [V, K] -> softmax averaged over views [K] (float64)."""
  z = logits.astype(np.float64)
  z = np.exp(z - z.max(axis=-1, keepdims=True))
  return (z / z.sum(axis=-1, keepdims=True)).mean(axis=0)


def top_labels(probabilities: np.ndarray, class_names: Sequence[str],
               k: int) -> list[dict[str, Any]]:
  """The k best classes: [{'label', 'index', 'probability'}], best first."""
  order = np.argsort(-probabilities, kind="stable")[:k]
  return [{"label": class_names[i], "index": int(i),
           "probability": float(probabilities[i])} for i in order]


def _print_text(result: dict[str, Any]) -> None:
  clips, crops = result["clips"], result["crops"]
  print(f"{result['video']}  ({clips} clip{'s' * (clips != 1)} x {crops} "
        f"crop{'s' * (crops != 1)})")
  for rank, entry in enumerate(result["top"], 1):
    print(f"  {rank}. {entry['probability']:7.2%}  {entry['label']}")


def main(argv: Sequence[str]) -> None:
  videos = argv[1:]
  if not videos:
    raise errors.UsageError("give at least one VIDEO after the flags")
  if FLAGS.top_k < 1:
    raise errors.UsageError(f"--top_k={FLAGS.top_k} must be >= 1")
  runner, info = video_cli.load_runner(FLAGS.weights, FLAGS.batch_size)
  if FLAGS.visualize:
    video_cli.output_dir("visualize", FLAGS.visualize)
  results, failed, used = [], [], set()
  for path in videos:
    views, error = video_cli.read_views(path, info)
    if views is None:
      failed.append({"video": path, "error": error})
      continue
    logits, _ = runner(views.inputs)
    result = {"video": path, **video_cli.describe(views),
              "top": top_labels(video_probabilities(logits),
                                info.class_names, FLAGS.top_k)}
    if FLAGS.visualize:
      result["contact_sheet"] = os.path.join(
          FLAGS.visualize, video_cli.unique_name(path, used, ".png"))
      contact_sheet.write_contact_sheet(
          result["contact_sheet"], path, views.frames, result["crops"],
          [(e["label"], e["probability"]) for e in result["top"][:5]])
    results.append(result)
    if not FLAGS.json:
      _print_text(result)
  if FLAGS.json:
    print(json.dumps({"weights": FLAGS.weights, "videos": results,
                      "errors": failed}, indent=1))
  if failed:
    print(f"{len(failed)} of {len(videos)} videos could not be read",
          file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
  errors.run(main)
