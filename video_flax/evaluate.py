"""Evaluation: top-1, top-5, per-class accuracy and the confusion matrix.

Counts are accumulated on device as sums over the (global, sharded) batch,
weighted by the batch's `mask`, so padded examples never count and no
process has to gather predictions from the others.

Multi-view testing (real videos: several clips x crops per video, each
element carrying its `video_index`): the per-view logits are also gathered
to the host, the views of each video averaged (multiview.py), and the
video-level metrics returned under `video` beside the per-view ones.
"""
from __future__ import annotations

import functools
import time
from typing import Any, Iterable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from video_flax import models
from video_flax import sharding as sharding_lib
from video_flax import multiview
from video_flax.models import cpu_compile


def variables_of(state: Any) -> dict[str, Any]:
  return {"params": state.params, "batch_stats": state.batch_stats}


def eval_counts(state: Any, batch: dict[str, jax.Array], *, model: nn.Module,
                num_classes: int) -> dict[str, jax.Array]:
  """Masked sums for one batch (pure; jit it).

  Returns loss_sum, top1, top5, count (scalars) and confusion
  [num_classes (true), num_classes (predicted)].
  """
  return _eval_logits_and_counts(state, batch, model=model,
                                 num_classes=num_classes)[1]


def _eval_logits_and_counts(state: Any, batch: dict[str, jax.Array], *,
                            model: nn.Module, num_classes: int
                            ) -> tuple[jax.Array, dict[str, jax.Array]]:
  """(logits float32 [B, K], eval_counts of the batch)."""
  logits = model.apply(variables_of(state), models.model_inputs(model, batch),
                       train=False)
  logits = logits.astype(jnp.float32)
  labels, mask = batch["label"], batch["mask"]
  loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
  top5 = jax.lax.top_k(logits, min(5, num_classes))[1]
  pred = top5[:, 0]
  in_top5 = jnp.any(top5 == labels[:, None], axis=-1)
  confusion = jnp.einsum("bi,bj->ij",
                         jax.nn.one_hot(labels, num_classes) * mask[:, None],
                         jax.nn.one_hot(pred, num_classes))
  return logits, {"loss_sum": jnp.sum(loss * mask),
                  "top1": jnp.sum((pred == labels) * mask),
                  "top5": jnp.sum(in_top5 * mask),
                  "count": jnp.sum(mask),
                  "confusion": confusion}


def summarize(totals: dict[str, np.ndarray]) -> dict[str, Any]:
  """Turns summed counts into accuracies (top1, top5, per-class, mean-class)."""
  count = max(float(totals["count"]), 1.0)
  confusion = np.asarray(totals["confusion"])
  per_class_total = confusion.sum(axis=1)
  per_class = np.divide(np.diag(confusion), per_class_total,
                        out=np.full(len(confusion), np.nan),
                        where=per_class_total > 0)
  return {"loss": float(totals["loss_sum"]) / count,
          "top1": float(totals["top1"]) / count,
          "top5": float(totals["top5"]) / count,
          "mean_class_accuracy": float(np.nanmean(per_class)),
          "per_class_accuracy": per_class.tolist(),
          "num_examples": int(totals["count"]),
          "confusion": confusion.astype(np.int64).tolist()}


def _to_host(x: Any) -> np.ndarray:
  """A global (possibly multi-process) array, or process-local numpy rows,
  as one numpy array of all processes' rows in global batch order."""
  if jax.process_count() == 1:
    return np.asarray(jax.device_get(x))
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
  return np.asarray(multihost_utils.process_allgather(
      x, tiled=isinstance(x, np.ndarray)))


def evaluate(state: Any, model: nn.Module, batches: Iterable[dict[str, np.ndarray]],
             mesh: jax.sharding.Mesh, num_classes: int,
             log_every_batches: int = 20) -> dict[str, Any]:
  """Runs the model over every batch of `batches` (process-local numpy).

  Batches with a 'video_index' (multi-view test sources) also get video-level
  metrics: softmax scores averaged over each video's views, in
  results['video'] (top1, top5, mean_class_accuracy, per_class_accuracy,
  num_videos).
  """
  step = cpu_compile.jit(functools.partial(
      _eval_logits_and_counts, model=model, num_classes=num_classes))
  totals = None
  views: dict[str, list[np.ndarray]] = {"logits": [], "label": [],
                                        "video_index": [], "mask": []}
  start = time.time()
  for i, local_batch in enumerate(batches):
    video_index = local_batch.get("video_index")
    local_batch = {k: v for k, v in local_batch.items()
                   if k not in ("index", "video_index")}
    logits, counts = step(state, sharding_lib.global_batch(local_batch, mesh))
    if video_index is not None:
      views["logits"].append(_to_host(logits))
      views["video_index"].append(_to_host(np.asarray(video_index)))
      views["label"].append(_to_host(np.asarray(local_batch["label"])))
      views["mask"].append(_to_host(np.asarray(local_batch["mask"])))
    totals = counts if totals is None else jax.tree.map(jnp.add, totals, counts)
    if log_every_batches and (i + 1) % log_every_batches == 0:
      print(f"  eval batch {i + 1}, {time.time() - start:.0f}s", flush=True)
  if totals is None:
    raise ValueError("evaluation split is empty")
  results = summarize(jax.device_get(totals))
  if views["logits"]:
    results["video"] = multiview.evaluate_views(
        *(np.concatenate(views[k]) for k in ("logits", "label", "video_index",
                                             "mask")))
  return results
