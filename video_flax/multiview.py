"""Multi-view testing: per-view logits -> per-video scores -> video metrics.

Pure numpy functions over what an evaluator collects from the test views
(clips x crops of each video, see data/video_source.MultiViewSource): logits
[N, K], labels [N], the video index of each view [N] and the batch mask
[N] (0 for padding). Views of a video are averaged (softmax scores by
default, as the I3D and CSN evaluations do), then top-1, top-5 and mean
class accuracy are computed per video.
"""
from __future__ import annotations

import numpy as np

AVERAGES = ("softmax", "logits")


def _softmax(logits: np.ndarray) -> np.ndarray:
  shifted = logits - logits.max(axis=-1, keepdims=True)
  e = np.exp(shifted)
  return e / e.sum(axis=-1, keepdims=True)


def video_scores(logits: np.ndarray, labels: np.ndarray,
                 video_index: np.ndarray, mask: np.ndarray | None = None,
                 average: str = "softmax"
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Averages the views of each video.

  Args:
    logits: float [N, K] per view (or [N, T, K]: averaged over T first).
    labels: int [N] per view (the video's label; must agree within a video).
    video_index: int [N] video of each view.
    mask: [N], 0 for padded views (ignored); None = all real.
    average: 'softmax' (mean of class probabilities) or 'logits'.

  Returns:
    (video_ids [V] sorted, scores [V, K], labels [V]) over the videos seen.
  """
  logits = np.asarray(logits, np.float64)
  if logits.ndim == 3:
    logits = logits.mean(axis=1)
  keep = np.ones(len(logits), bool) if mask is None else np.asarray(mask) > 0
  logits, labels = logits[keep], np.asarray(labels)[keep]
  video_index = np.asarray(video_index)[keep]
  if average not in AVERAGES:
    raise ValueError(f"average must be one of {AVERAGES}, got {average!r}")
  per_view = _softmax(logits) if average == "softmax" else logits
  ids, slot = np.unique(video_index, return_inverse=True)
  sums = np.zeros((len(ids), logits.shape[-1]))
  np.add.at(sums, slot, per_view)
  counts = np.bincount(slot, minlength=len(ids))
  video_labels = np.full(len(ids), -1, np.int64)
  video_labels[slot] = labels
  if np.any(video_labels[slot] != labels):
    bad = ids[np.unique(slot[video_labels[slot] != labels])]
    raise ValueError(f"views of videos {bad[:5].tolist()} disagree on the "
                     f"label")
  return ids, sums / counts[:, None], video_labels


def video_metrics(scores: np.ndarray, labels: np.ndarray) -> dict[str, object]:
  """Video-level top-1, top-5 and mean class accuracy.

  Args:
    scores: [V, K] averaged scores; labels: int [V] (-1 = unlabelled, left out).

  Returns:
    dict with top1, top5, mean_class_accuracy (mean over classes present),
    per_class_accuracy [K] (nan for absent classes), num_videos.
  """
  labelled = labels >= 0
  scores, labels = scores[labelled], labels[labelled]
  if not len(labels):
    raise ValueError("no labelled videos to score")
  num_classes = scores.shape[-1]
  ranked = np.argsort(-scores, axis=-1, kind="stable")
  top1 = ranked[:, 0] == labels
  top5 = np.any(ranked[:, :5] == labels[:, None], axis=-1)
  totals = np.bincount(labels, minlength=num_classes)
  hits = np.bincount(labels, weights=top1, minlength=num_classes)
  per_class = np.divide(hits, totals, out=np.full(num_classes, np.nan),
                        where=totals > 0)
  return {"top1": float(top1.mean()), "top5": float(top5.mean()),
          "mean_class_accuracy": float(np.nanmean(per_class)),
          "per_class_accuracy": per_class.tolist(),
          "num_videos": int(len(labels))}


def evaluate_views(logits: np.ndarray, labels: np.ndarray,
                   video_index: np.ndarray, mask: np.ndarray | None = None,
                   average: str = "softmax") -> dict[str, object]:
  """video_scores then video_metrics (see both)."""
  _, scores, video_labels = video_scores(logits, labels, video_index, mask,
                                         average)
  return video_metrics(scores, video_labels)
