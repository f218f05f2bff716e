"""The one training loop: every model, dataset and stage is a config.

`train_step` is a pure module-level function jitted with the state
replicated and the batch sharded over the mesh's `data` axis, so the same
code runs on one CPU, 8 fake devices or a TPU pod.
"""
from __future__ import annotations

import functools
import json
import os
import time
from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from video_flax import checkpointing
from video_flax import config_validation
from video_flax import evaluate as evaluate_lib
from video_flax import metrics_logging
from video_flax import models
from video_flax import nonfinite
from video_flax import optim
from video_flax import precise_bn
from video_flax import preemption
from video_flax import preflight
from video_flax import sharding as sharding_lib
from video_flax import transfer
from video_flax.data import pipeline


@flax.struct.dataclass
class TrainState:
  step: jax.Array
  params: Any
  batch_stats: Any
  opt_state: Any


def build_model(config: ml_collections.ConfigDict, num_classes: int
                ) -> nn.Module:
  """The registered model named by config.model.name; other fields are kwargs."""
  kwargs = {k: v for k, v in config.model.items() if k != "name"}
  kwargs["dtype"] = jnp.dtype(kwargs.get("dtype", "float32"))
  return models.build_model(config.model.name, num_classes, **kwargs)


def create_train_state(model: nn.Module, tx: optax.GradientTransformation,
                       rng: jax.Array, example_batch: dict[str, np.ndarray],
                       mesh: jax.sharding.Mesh) -> TrainState:
  """Initialises the state directly in its sharding (no host-side copy)."""
  inputs = evaluate_lib.model_inputs(
      model, {k: jnp.zeros((1, *v.shape[1:]), v.dtype)
              for k, v in example_batch.items()})

  def init(rng):
    variables = model.init({"params": rng, "dropout": rng}, inputs, train=False)
    params = variables["params"]
    return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                      batch_stats=variables.get("batch_stats", {}),
                      opt_state=tx.init(params))

  abstract = jax.eval_shape(init, rng)
  shardings = sharding_lib.state_shardings(mesh, abstract)
  return jax.jit(init, out_shardings=shardings)(rng)


def cross_entropy(logits: jax.Array, labels: jax.Array, num_classes: int,
                  label_smoothing: float) -> jax.Array:
  """Mean softmax cross-entropy; logits [B, K] or [B, T, K] (mean over T)."""
  targets = optax.smooth_labels(jax.nn.one_hot(labels, num_classes),
                                label_smoothing)
  if logits.ndim == 3:
    targets = jnp.broadcast_to(targets[:, None], logits.shape)
  return jnp.mean(optax.softmax_cross_entropy(logits, targets))


def train_step(state: TrainState, batch: dict[str, jax.Array],
               dropout_key: jax.Array, *, model: nn.Module,
               tx: optax.GradientTransformation, num_classes: int,
               label_smoothing: float, train_bn: bool = True
               ) -> tuple[TrainState, dict[str, jax.Array]]:
  """One SGD step on a (global) batch; returns the new state and metrics.

  With `train_bn=False` (the `fixed` stage) the model runs in inference mode:
  BN uses and keeps its running statistics, dropout is off. A step whose
  loss, gradients or new variables are not all finite changes nothing but
  the step count (metrics['skipped'] = 1; see nonfinite.py).
  """
  key = jax.random.fold_in(dropout_key, state.step)
  inputs = evaluate_lib.model_inputs(model, batch)

  def loss_fn(params):
    variables = {"params": params, "batch_stats": state.batch_stats}
    if train_bn:
      logits, updates = model.apply(variables, inputs, train=True,
                                    mutable=["batch_stats"],
                                    rngs={"dropout": key})
      batch_stats = updates["batch_stats"]
    else:
      logits, batch_stats = model.apply(variables, inputs, train=False), \
          state.batch_stats
    logits = logits.astype(jnp.float32)
    loss = cross_entropy(logits, batch["label"], num_classes, label_smoothing)
    return loss, (logits, batch_stats)

  (loss, (logits, batch_stats)), grads = jax.value_and_grad(
      loss_fn, has_aux=True)(state.params)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  final_logits = logits[:, -1] if logits.ndim == 3 else logits
  finite = nonfinite.all_finite((loss, grads, params, batch_stats))
  metrics = {"loss": loss,
             "accuracy": jnp.mean(jnp.argmax(final_logits, -1) == batch["label"]),
             "skipped": 1.0 - finite.astype(jnp.float32)}
  kept = nonfinite.keep_if_finite(
      finite, (params, batch_stats, opt_state),
      (state.params, state.batch_stats, state.opt_state))
  new_state = state.replace(step=state.step + 1, params=kept[0],
                            batch_stats=kept[1], opt_state=kept[2])
  return new_state, metrics


def _train_iterator(config: ml_collections.ConfigDict, seed: int):
  return pipeline.make_train_iterator(
      config.dataset, global_batch_size=config.train.batch_size, seed=seed,
      process_index=jax.process_index(), process_count=jax.process_count())


def _eval_iterator(config: ml_collections.ConfigDict):
  return pipeline.make_eval_iterator(
      config.dataset, global_batch_size=config.eval.batch_size,
      process_index=jax.process_index(), process_count=jax.process_count())


def with_precise_bn(config: ml_collections.ConfigDict, state: TrainState,
                    model: nn.Module, mesh: jax.sharding.Mesh) -> TrainState:
  """`state` with BN statistics recomputed over eval.precise_bn_batches
  training batches (a fixed, separately seeded stream: deterministic)."""
  if config.eval.precise_bn_batches <= 0 or config.transfer.stage == "fixed":
    return state
  bn_batches = _train_iterator(config, seed=config.seed + 1)
  stats = precise_bn.recompute_batch_stats(
      state, model, bn_batches, config.eval.precise_bn_batches, mesh)
  return state.replace(batch_stats=stats)


def evaluate_state(config: ml_collections.ConfigDict, state: TrainState,
                   model: nn.Module, mesh: jax.sharding.Mesh,
                   num_classes: int) -> dict[str, Any]:
  """Precise BN (if configured) then metrics on the eval split."""
  state = with_precise_bn(config, state, model, mesh)
  return evaluate_lib.evaluate(state, model, _eval_iterator(config), mesh,
                               num_classes)


def _initialise_from(config: ml_collections.ConfigDict, state: TrainState,
                     tx: optax.GradientTransformation) -> TrainState:
  """`state` with the variables of `config.transfer.init_from` merged in."""
  current = jax.device_get({"params": state.params,
                            "batch_stats": state.batch_stats})
  variables = transfer.initial_variables(config.transfer, current)
  shardings = jax.tree.map(lambda x: x.sharding,
                           {"params": state.params,
                            "batch_stats": state.batch_stats})
  variables = jax.device_put(variables, shardings)
  opt_state = jax.jit(tx.init, out_shardings=jax.tree.map(
      lambda x: x.sharding, state.opt_state))(variables["params"])
  return state.replace(params=variables["params"],
                       batch_stats=variables["batch_stats"], opt_state=opt_state)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str, *,
                       stop_at_step: int | None = None) -> dict[str, Any]:
  """Trains `config` in `workdir` (resuming if it holds a checkpoint).

  Args:
    config: a full config (see video_flax/base_config.py).
    workdir: checkpoints, TensorBoard events and results.json go here.
    stop_at_step: leave the loop after this step as if preempted (tests and
      fault injection); the run resumes from its last checkpoint.
  Returns:
    the final evaluation metrics, or {} when stopped early.
  """
  config_validation.validate(config)
  os.makedirs(workdir, exist_ok=True)
  mesh = sharding_lib.make_mesh(config.mesh)
  info = pipeline.dataset_info(config.dataset)
  model = build_model(config, info.num_classes)
  schedule = optim.make_schedule(config.train)
  tx = optim.make_stage_optimizer(config, schedule)

  train_iter = _train_iterator(config, seed=config.seed)
  example = next(iter(_train_iterator(config, seed=config.seed)))
  rng = jax.random.key(config.seed)
  init_key, dropout_key = jax.random.split(rng)
  state = create_train_state(model, tx, init_key, example, mesh)
  preflight.check_free_space(workdir, state, config.train.keep_checkpoints)
  manager = checkpointing.make_manager(workdir, config.train.keep_checkpoints)
  restored = checkpointing.restore_latest(
      manager, checkpointing.abstract_like(state), train_iter)
  if restored is not None:
    state = restored
    print(f"Resumed from {checkpointing.checkpoint_dir(workdir)} at step "
          f"{int(state.step)}", flush=True)
  elif config.transfer.init_from:
    state = _initialise_from(config, state, tx)

  step_fn = jax.jit(
      functools.partial(train_step, model=model, tx=tx,
                        num_classes=info.num_classes,
                        label_smoothing=config.train.label_smoothing,
                        train_bn=config.transfer.stage != "fixed"),
      donate_argnums=(0,))
  writer = metrics_logging.MetricsWriter(workdir)
  logger = metrics_logging.ProgressLogger(config.train.num_steps,
                                          config.train.batch_size)
  print(f"Training {config.model.name} on {config.dataset.name}/"
        f"{config.dataset.variant}: {info.num_train} clips, "
        f"{info.num_classes} classes, {jax.device_count()} devices "
        f"(mesh {dict(mesh.shape)})", flush=True)
  step = int(state.step)
  pending = []
  skips = nonfinite.SkipCounter(
      config.train.max_nonfinite_in_a_row,
      lambda: manager.latest_step() and checkpointing.step_dir(
          manager, manager.latest_step()))
  while step < config.train.num_steps:
    batch = sharding_lib.global_batch(next(train_iter), mesh)
    state, metrics = step_fn(state, batch, dropout_key)
    step += 1
    pending.append(metrics)
    skips.observe(step, metrics["skipped"])
    if step % config.train.log_every_steps == 0 or step == config.train.num_steps:
      means = {k: float(np.mean([m[k] for m in jax.device_get(pending)]))
               for k in pending[0]}
      means["learning_rate"] = float(schedule(step - 1))
      logger.log(step, means)
      writer.write_scalars(step, {f"train/{k}": v for k, v in means.items()})
      pending = []
    if (step % config.train.checkpoint_every_steps == 0
        and step < config.train.num_steps):
      skips.flush()
      checkpointing.save(manager, step, state, train_iter)
    if config.eval.every_steps and step % config.eval.every_steps == 0 \
        and step < config.train.num_steps:
      metrics = evaluate_state(config, state, model, mesh, info.num_classes)
      logger.log_eval(step, metrics)
      writer.write_scalars(step, metrics_logging.eval_scalars(metrics))
    if preemption.requested() or (stop_at_step is not None
                                  and step >= stop_at_step):
      skips.flush()
      if manager.latest_step() != step:
        checkpointing.save(manager, step, state, train_iter)
      writer.close()
      print(f"Stopped after step {step} ({preemption.requested() or 'asked'}"
            f"); checkpoint {checkpointing.step_dir(manager, step)} saved. "
            f"Rerun the same command to resume.", flush=True)
      return {}

  skips.flush()
  state = with_precise_bn(config, state, model, mesh)
  nonfinite.check_state(state, f"after step {step} and precise BN")
  if manager.latest_step() != step:
    checkpointing.save(manager, step, state, train_iter)
  results = evaluate_lib.evaluate(state, model, _eval_iterator(config), mesh,
                                  info.num_classes)
  results["class_names"] = list(info.class_names)
  writer.write_scalars(step, metrics_logging.eval_scalars(results))
  writer.close()
  if jax.process_index() == 0:
    path = os.path.join(workdir, "results.json")
    with open(path + ".tmp", "w") as f:
      json.dump(nonfinite.json_safe(results), f, indent=1, allow_nan=False)
    os.replace(path + ".tmp", path)
  logger.log_final(results)
  return results
