"""A contact sheet of a video's sampled frames with its top labels (PNG).

Drawn with matplotlib's object API (no pyplot: importing this changes no
backend and keeps no global figure)."""
from __future__ import annotations

from typing import Sequence

from matplotlib.figure import Figure
import numpy as np

MAX_FRAMES_PER_CLIP = 8


def write_contact_sheet(path: str, title: str, frames: np.ndarray,
                        crops_per_clip: int,
                        top: Sequence[tuple[str, float]]) -> None:
  """Writes a PNG: one row per sampled clip (its first crop), up to
  MAX_FRAMES_PER_CLIP evenly spaced frames per row, the labels beneath.

  Args:
    frames: uint8 RGB views [V, T, h, w, 3], V = clips x crops_per_clip
      (clip-major).
    top: (label, probability) pairs, best first.
  """
  clips = frames[::crops_per_clip]
  cols = np.unique(np.linspace(0, clips.shape[1] - 1,
                               min(MAX_FRAMES_PER_CLIP, clips.shape[1])
                               ).round().astype(int))
  rows = len(clips)
  aspect = clips.shape[3] / clips.shape[2]
  text_rows = 0.3 * len(top) + 0.6
  fig = Figure(figsize=(1.6 * aspect * len(cols) + 0.4,
                            1.6 * rows + text_rows))
  grid = fig.add_gridspec(rows + 1, len(cols),
                          height_ratios=[1.6] * rows + [text_rows])
  for r, clip in enumerate(clips):
    for c, t in enumerate(cols):
      ax = fig.add_subplot(grid[r, c])
      ax.imshow(clip[t])
      ax.set_xticks([])
      ax.set_yticks([])
      if c == 0:
        ax.set_ylabel(f"clip {r + 1}", fontsize=8)
      if r == 0:
        ax.set_title(f"frame {t}", fontsize=8)
  text = fig.add_subplot(grid[rows, :])
  text.axis("off")
  lines = [f"{i + 1}. {p:6.1%}  {label}" for i, (label, p) in enumerate(top)]
  text.text(0.0, 1.0, "\n".join(lines), va="top", family="monospace",
            fontsize=10)
  fig.suptitle(title, fontsize=10)
  fig.savefig(path, dpi=80)
