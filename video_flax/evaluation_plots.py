"""Pictures of an evaluation, written beside results.json.

- confusion_matrix.png: rows = true class, columns = predicted, colour = the
  fraction of the true class's clips; class names on both axes. Up to
  MAX_FULL_CLASSES classes the whole matrix is drawn (counts written in the
  cells up to 20); with more (Kinetics-400) only the MAX_FULL_CLASSES
  classes in the largest off-diagonal cells are drawn, and the title says so.
- per_class_accuracy.png: one horizontal bar per class (every class, sorted,
  the figure grows with the class count), clip-level and, for multi-view
  evaluations, video-level.
"""
from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

from matplotlib.figure import Figure
import numpy as np

CONFUSION_FILE = "confusion_matrix.png"
PER_CLASS_FILE = "per_class_accuracy.png"
MAX_FULL_CLASSES = 40
MAX_ANNOTATED_CLASSES = 20


def most_confused_classes(confusion: np.ndarray, limit: int) -> np.ndarray:
  """Sorted indices of up to `limit` classes taken from the largest
  off-diagonal cells (both the true and the predicted class of each)."""
  off = confusion.astype(np.float64).copy()
  np.fill_diagonal(off, 0)
  chosen: list[int] = []
  for cell in np.argsort(-off, axis=None, kind="stable"):
    if len(chosen) >= limit or off.flat[cell] <= 0:
      break
    for c in np.unravel_index(cell, off.shape):
      if int(c) not in chosen and len(chosen) < limit:
        chosen.append(int(c))
  if len(chosen) < limit:  # too few confusions: fill with the most frequent
    for c in np.argsort(-confusion.sum(axis=1), kind="stable"):
      if int(c) not in chosen and len(chosen) < limit:
        chosen.append(int(c))
  return np.array(sorted(chosen))


def plot_confusion(path: str, confusion: np.ndarray,
                   class_names: Sequence[str]) -> None:
  """Writes the confusion matrix PNG (see the module docstring)."""
  num_classes = len(confusion)
  shown = np.arange(num_classes)
  title = f"Confusion matrix ({int(confusion.sum())} clips)"
  if num_classes > MAX_FULL_CLASSES:
    shown = most_confused_classes(confusion, MAX_FULL_CLASSES)
    title += (f": the {len(shown)} most-confused of {num_classes} classes")
  counts = confusion[np.ix_(shown, shown)]
  totals = confusion[shown].sum(axis=1, keepdims=True)
  fraction = np.divide(counts, totals, out=np.zeros(counts.shape),
                       where=totals > 0)
  names = [class_names[i] for i in shown]
  side = max(4.0, 0.28 * len(shown) + 2.5)
  fig = Figure(figsize=(side + 1.0, side))
  ax = fig.subplots()
  image = ax.imshow(fraction, cmap="Blues", vmin=0, vmax=1)
  fig.colorbar(image, ax=ax, fraction=0.04, label="fraction of true class")
  ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
  ax.set_yticks(range(len(names)), names, fontsize=7)
  ax.set_xlabel("predicted")
  ax.set_ylabel("true")
  ax.set_title(title, fontsize=9)
  if len(shown) <= MAX_ANNOTATED_CLASSES:
    for (r, c), n in np.ndenumerate(counts):
      if n:
        ax.text(c, r, str(int(n)), ha="center", va="center", fontsize=6,
                color="white" if fraction[r, c] > 0.5 else "black")
  fig.tight_layout()
  fig.savefig(path, dpi=90)


def plot_per_class(path: str, accuracies: Mapping[str, Sequence[float]],
                   class_names: Sequence[str]) -> None:
  """Horizontal bars of each class's accuracy, one series per entry of
  `accuracies` ({'clip': [K], 'video': [K]}), sorted by the first series;
  classes without examples (nan) are drawn empty and marked n/a."""
  series = {k: np.asarray(v, np.float64) for k, v in accuracies.items()}
  first = next(iter(series.values()))
  order = np.argsort(np.nan_to_num(first, nan=-1.0), kind="stable")
  bar = 0.8 / len(series)
  # Fixed margins from the longest name (tight_layout over hundreds of tick
  # labels takes tens of seconds).
  width, height = 7.0, max(3.0, 0.2 * len(first) + 1.2)
  left = 0.35 + 0.065 * max(len(n) for n in class_names)
  fig = Figure(figsize=(width + left, height))
  fig.subplots_adjust(left=left / (width + left), right=0.97,
                      bottom=0.7 / height, top=1 - 0.45 / height)
  ax = fig.subplots()
  for i, (label, values) in enumerate(series.items()):
    ax.barh(np.arange(len(order)) + i * bar, np.nan_to_num(values[order]),
            height=bar, label=label)
  for row, c in enumerate(order):
    if np.isnan(first[c]):
      ax.text(0.01, row, "n/a", va="center", fontsize=6)
  ax.set_yticks(np.arange(len(order)) + 0.4 - bar / 2,
                [class_names[c] for c in order], fontsize=7)
  ax.set_ylim(-0.5, len(order))
  ax.set_xlim(0, 1)
  ax.set_xlabel("accuracy")
  ax.set_title(f"Per-class accuracy ({len(first)} classes, mean "
               f"{np.nanmean(first):.3f})", fontsize=9)
  if len(series) > 1:
    ax.legend(loc="lower right", fontsize=7)
  fig.savefig(path, dpi=90)


def write_plots(directory: str, results: Mapping[str, Any]) -> list[str]:
  """Writes both PNGs for `results` (evaluate.evaluate's dict with
  'class_names') into `directory`; returns their paths."""
  confusion = np.asarray(results["confusion"])
  names = results.get("class_names") or [str(i) for i in range(len(confusion))]
  accuracies = {"clip": results["per_class_accuracy"]}
  if "video" in results:
    accuracies["video"] = results["video"]["per_class_accuracy"]
  paths = [os.path.join(directory, f) for f in (CONFUSION_FILE,
                                                 PER_CLASS_FILE)]
  plot_confusion(paths[0], confusion, names)
  plot_per_class(paths[1], accuracies, names)
  return paths
