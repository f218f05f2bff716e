"""What `predict` and `extract_features` share: the --weights and
--batch_size flags, loading the weights, and reading each video's views with
one line (not a traceback) for a file that cannot be used."""
from __future__ import annotations

import os
import sys
from typing import Any

from absl import flags

from video_flax import errors
from video_flax import features
from video_flax import video_views
from video_flax import weights
from video_flax.data.prepare import decode as video_decode


def define_flags() -> None:
  """--weights (required) and --batch_size; once per process, so a notebook
  may import both commands."""
  if "weights" in flags.FLAGS:
    return
  flags.DEFINE_string("weights", None, "A converted-weights directory "
                      "(python -m video_flax.convert writes one).")
  flags.DEFINE_integer("batch_size", 16, "Views per forward pass.")
  flags.mark_flag_as_required("weights")


def output_dir(flag: str, path: str) -> str:
  """Creates the directory of `--flag=path`; one UsageError naming the
  flag when it cannot be created (a file in the way, no permission)."""
  try:
    os.makedirs(path, exist_ok=True)
  except OSError as e:
    raise errors.UsageError(f"--{flag}={path}: cannot create the directory: "
                            f"{e.strerror or e}") from e
  return path


def load_runner(path: str, batch_size: int
                ) -> tuple[features.ViewRunner, weights.WeightsInfo]:
  """The model of `path` ready to run on views; exits with one line (code
  2) when the directory cannot be loaded."""
  if batch_size < 1:
    raise errors.UsageError(f"--batch_size={batch_size} must be >= 1")
  try:
    model, variables, info = weights.load(path)
    return features.ViewRunner(model, variables, batch_size), info
  except (OSError, ValueError) as e:
    print(f"error: --weights={path}: {e}", file=sys.stderr)
    sys.exit(2)


def read_views(path: str, info: weights.WeightsInfo
               ) -> tuple[video_views.Views | None, str | None]:
  """(views, None), or (None, the reason) after printing one line naming
  the file to stderr."""
  try:
    return video_views.sample_views(path, info.preprocessing), None
  except (video_decode.VideoDecodeError, OSError) as e:
    reason = f"{getattr(e, 'reason', type(e).__name__)}: " \
             f"{getattr(e, 'detail', e)}"
    print(f"error: {path}: {reason}", file=sys.stderr, flush=True)
    return None, reason


def unique_name(path: str, used: set[str], suffix: str) -> str:
  """`path`'s file stem + suffix, numbered when two videos share a stem."""
  stem = os.path.splitext(os.path.basename(path))[0] or "video"
  name, n = stem + suffix, 1
  while name in used:
    n += 1
    name = f"{stem}_{n}{suffix}"
  used.add(name)
  return name


def describe(views: video_views.Views) -> dict[str, Any]:
  """{'clips', 'crops'} of a video's views."""
  return {"clips": views.clips, "crops": len(views.frames) // views.clips}
