"""The one training loop: every model, dataset and stage is a config.

`train_and_evaluate` reads as its phases: build the run (`_Run`), restore or
initialise the state, the loop (periodic logging, checkpoints and
evaluations in `_PeriodicActions`), then the final evaluation.
`train_step` is a pure module-level function jitted with the state
replicated and the batch sharded over the mesh (`sharding.py`: batch over
`data`, each clip's height over `spatial`), so the same code runs on one
CPU, 8 fake devices or a TPU pod.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
from typing import Any, Callable, Iterator

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import orbax.checkpoint as ocp

from video_flax import accumulation
from video_flax import checkpointing
from video_flax import config_validation
from video_flax import evaluate as evaluate_lib
from video_flax import evaluation_plots
from video_flax import loss as loss_lib
from video_flax import metrics_logging
from video_flax import models
from video_flax import nonfinite
from video_flax import optim
from video_flax import precise_bn
from video_flax import preemption
from video_flax import preflight
from video_flax import workdir_lock
from video_flax import sharding as sharding_lib
from video_flax import transfer
from video_flax.data import pipeline
from video_flax.models import cpu_compile

StepFn = Callable[..., tuple[Any, dict[str, jax.Array]]]


@flax.struct.dataclass
class TrainState:
  step: jax.Array
  params: Any
  batch_stats: Any
  opt_state: Any


def create_train_state(model: nn.Module, tx: optax.GradientTransformation,
                       rng: jax.Array, example_batch: dict[str, np.ndarray],
                       mesh: jax.sharding.Mesh) -> TrainState:
  """Initialises the state directly in its sharding (no host-side copy)."""
  inputs = models.model_inputs(
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
  return cpu_compile.jit(init, out_shardings=shardings)(rng)


def train_step(state: TrainState, batch: dict[str, jax.Array],
               dropout_key: jax.Array, *, model: nn.Module,
               tx: optax.GradientTransformation, num_classes: int,
               label_smoothing: float, train_bn: bool = True,
               grad_accum_steps: int = 1
               ) -> tuple[TrainState, dict[str, jax.Array]]:
  """One SGD step on a (global) batch; returns the new state and metrics.

  With `train_bn=False` (a stage whose `transfer.Stage.trains_bn` is False)
  the model runs in inference mode: BN uses and keeps its running
  statistics, dropout is off. With `grad_accum_steps` > 1 the gradients
  are the mean over that many micro-batches (`accumulation.py`). A step
  whose loss, gradients or new variables are not all finite changes
  nothing but the step count (metrics['skipped'] = 1; see nonfinite.py).
  """
  key = jax.random.fold_in(dropout_key, state.step)
  grad_fn = functools.partial(loss_lib.loss_and_grads, model=model,
                              num_classes=num_classes,
                              label_smoothing=label_smoothing,
                              train_bn=train_bn)
  if grad_accum_steps == 1:
    (loss, (logits, batch_stats)), grads = grad_fn(
        state.params, state.batch_stats, batch, key)
  else:
    (loss, (logits, batch_stats)), grads = accumulation.accumulate_grads(
        grad_fn, state.params, state.batch_stats, batch, key,
        grad_accum_steps)
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


def _train_iterator(config: ml_collections.ConfigDict, seed: int
                    ) -> Iterator[dict[str, np.ndarray]]:
  return pipeline.make_train_iterator(
      config.dataset, global_batch_size=config.train.batch_size, seed=seed,
      process_index=jax.process_index(), process_count=jax.process_count())


def _eval_iterator(config: ml_collections.ConfigDict
                   ) -> Iterator[dict[str, np.ndarray]]:
  return pipeline.make_eval_iterator(
      config.dataset, global_batch_size=config.eval.batch_size,
      process_index=jax.process_index(), process_count=jax.process_count())


def with_precise_bn(config: ml_collections.ConfigDict, state: TrainState,
                    model: nn.Module, mesh: jax.sharding.Mesh) -> TrainState:
  """`state` with BN statistics recomputed over eval.precise_bn_batches
  training batches (a fixed, separately seeded stream: deterministic)."""
  stage = transfer.stage(config.transfer.stage)
  if config.eval.precise_bn_batches <= 0 or not stage.precise_bn:
    return state
  bn_batches = _train_iterator(config, seed=config.seed + 1)
  stats = precise_bn.recompute_batch_stats(
      state, model, bn_batches, config.eval.precise_bn_batches, mesh)
  return state.replace(batch_stats=stats)


def evaluate_state(config: ml_collections.ConfigDict, state: TrainState,
                   model: nn.Module, mesh: jax.sharding.Mesh,
                   num_classes: int) -> dict[str, Any]:
  """Precise BN (if the stage and config ask for it), then metrics on the
  eval split."""
  state = with_precise_bn(config, state, model, mesh)
  return evaluate_lib.evaluate(state, model, _eval_iterator(config), mesh,
                               num_classes)


@dataclasses.dataclass(frozen=True)
class _Run:
  """What every phase of one run reads, built once from its config."""
  config: ml_collections.ConfigDict
  workdir: str
  mesh: jax.sharding.Mesh
  info: pipeline.DatasetInfo
  model: nn.Module
  schedule: optax.Schedule
  tx: optax.GradientTransformation
  train_iter: Iterator[dict[str, np.ndarray]]
  manager: ocp.CheckpointManager


def build_model(config: ml_collections.ConfigDict, num_classes: int
                ) -> nn.Module:
  """`config.model`, with its blocks rematerialised if `train.remat`."""
  model = models.from_config(config.model, num_classes)
  return model.clone(remat=True) if config.train.remat else model


def _make_run(config: ml_collections.ConfigDict, workdir: str) -> _Run:
  os.makedirs(workdir, exist_ok=True)
  info = pipeline.dataset_info(config.dataset)
  schedule = optim.make_schedule(config.train)
  return _Run(
      config=config, workdir=workdir,
      mesh=sharding_lib.make_mesh(config.mesh), info=info,
      model=build_model(config, info.num_classes),
      schedule=schedule, tx=optim.make_stage_optimizer(config, schedule),
      train_iter=_train_iterator(config, seed=config.seed),
      manager=checkpointing.make_manager(workdir,
                                         config.train.keep_checkpoints))


def _peek(data_iter: Any) -> dict[str, np.ndarray]:
  """The next batch of a (grain) iterator, leaving its position unchanged."""
  position = data_iter.get_state()
  batch = next(data_iter)
  data_iter.set_state(position)
  return batch


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
  opt_state = cpu_compile.jit(tx.init, out_shardings=jax.tree.map(
      lambda x: x.sharding, state.opt_state))(variables["params"])
  return state.replace(params=variables["params"],
                       batch_stats=variables["batch_stats"], opt_state=opt_state)


def restore_or_initialise(run: _Run, init_key: jax.Array) -> TrainState:
  """The latest checkpoint of the workdir (and the iterator's position in
  it), else a fresh state, merged with `transfer.init_from` if set."""
  state = create_train_state(run.model, run.tx, init_key,
                             _peek(run.train_iter), run.mesh)
  preflight.check_free_space(run.workdir, state,
                             run.config.train.keep_checkpoints)
  restored = checkpointing.restore_latest(
      run.manager, checkpointing.abstract_like(state), run.train_iter)
  if restored is not None:
    state = restored
    print(f"Resumed from {checkpointing.checkpoint_dir(run.workdir)} at step "
          f"{int(state.step)}", flush=True)
  elif run.config.transfer.init_from:
    state = _initialise_from(run.config, state, run.tx)
  return state


def _jit_train_step(run: _Run) -> StepFn:
  return cpu_compile.jit(
      functools.partial(
          train_step, model=run.model, tx=run.tx,
          num_classes=run.info.num_classes,
          label_smoothing=run.config.train.label_smoothing,
          train_bn=transfer.stage(run.config.transfer.stage).trains_bn,
          grad_accum_steps=run.config.train.grad_accum_steps),
      donate_argnums=(0,))


class _PeriodicActions:
  """Logging, checkpoints and evaluations during training, each at its
  interval (none of them at the last step: `_finish` does those)."""

  def __init__(self, run: _Run):
    self._run, self._train = run, run.config.train
    self.writer = metrics_logging.MetricsWriter(run.workdir)
    self.logger = metrics_logging.ProgressLogger(self._train.num_steps,
                                                 self._train.batch_size)
    self._pending: list[dict[str, jax.Array]] = []

  def after_step(self, step: int, state: TrainState,
                 metrics: dict[str, jax.Array]) -> None:
    self._pending.append(metrics)
    last = step == self._train.num_steps
    if step % self._train.log_every_steps == 0 or last:
      self._log(step)
    if step % self._train.checkpoint_every_steps == 0 and not last:
      checkpointing.save(self._run.manager, step, state, self._run.train_iter)
    every = self._run.config.eval.every_steps
    if every and step % every == 0 and not last:
      self._evaluate(step, state)

  def stop(self, step: int, state: TrainState, why: str) -> None:
    """Leaves as a preempted run would: checkpointed at `step`."""
    manager = self._run.manager
    if manager.latest_step() != step:
      checkpointing.save(manager, step, state, self._run.train_iter)
    self.writer.close()
    print(f"Stopped after step {step} ({why}"
          f"); checkpoint {checkpointing.step_dir(manager, step)} saved. "
          f"Rerun the same command to resume.", flush=True)

  def _log(self, step: int) -> None:
    means = {k: float(np.mean([m[k] for m in jax.device_get(self._pending)]))
             for k in self._pending[0]}
    means["learning_rate"] = float(self._run.schedule(step - 1))
    self.logger.log(step, means)
    self.writer.write_scalars(step, {f"train/{k}": v for k, v in means.items()})
    self._pending = []

  def _evaluate(self, step: int, state: TrainState) -> None:
    run = self._run
    metrics = evaluate_state(run.config, state, run.model, run.mesh,
                             run.info.num_classes)
    self.logger.log_eval(step, metrics)
    self.writer.write_scalars(step, metrics_logging.eval_scalars(metrics))


def train_loop(run: _Run, state: TrainState, dropout_key: jax.Array,
               actions: _PeriodicActions, stop_at_step: int | None
               ) -> tuple[TrainState, bool]:
  """Steps until train.num_steps; returns (state, True if stopped early)."""
  step_fn = _jit_train_step(run)
  step = int(state.step)
  manager = run.manager
  skips = nonfinite.SkipCounter(
      run.config.train.max_nonfinite_in_a_row,
      lambda: manager.latest_step() and checkpointing.step_dir(
          manager, manager.latest_step()))
  preempted = preemption.stop_check(jax.process_count())
  while step < run.config.train.num_steps:
    batch = sharding_lib.global_batch(next(run.train_iter), run.mesh)
    state, metrics = step_fn(state, batch, dropout_key)
    step += 1
    skips.observe(step, metrics["skipped"])
    actions.after_step(step, state, metrics)
    notice = preempted(step)  # every process, every step (agreement)
    if notice or (stop_at_step is not None and step >= stop_at_step):
      skips.flush()
      actions.stop(step, state, preemption.requested() or (
          "preemption notice" if notice else "asked"))
      return state, True
  skips.flush()
  return state, False


def _finish(run: _Run, state: TrainState, actions: _PeriodicActions
            ) -> dict[str, Any]:
  """Precise BN, the last checkpoint, the final evaluation and its report."""
  step = int(state.step)
  state = with_precise_bn(run.config, state, run.model, run.mesh)
  nonfinite.check_state(state, f"after step {step} and precise BN")
  if run.manager.latest_step() != step:
    checkpointing.save(run.manager, step, state, run.train_iter)
  results = evaluate_lib.evaluate(state, run.model, _eval_iterator(run.config),
                                  run.mesh, run.info.num_classes)
  results["class_names"] = list(run.info.class_names)
  actions.writer.write_scalars(step, metrics_logging.eval_scalars(results))
  actions.writer.close()
  if jax.process_index() == 0:
    path = os.path.join(run.workdir, "results.json")
    with open(path + ".tmp", "w") as f:
      json.dump(nonfinite.json_safe(results), f, indent=1, allow_nan=False)
    os.replace(path + ".tmp", path)
    evaluation_plots.write_plots(run.workdir, results)
  actions.logger.log_final(results)
  return results


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str, *,
                       stop_at_step: int | None = None) -> dict[str, Any]:
  """Trains `config` in `workdir` (resuming if it holds a checkpoint).

  Args:
    config: a full config (see video_flax/base_config.py); validated here.
    workdir: checkpoints, TensorBoard events and results.json go here.
    stop_at_step: leave the loop after this step as if preempted (tests and
      fault injection); the run resumes from its last checkpoint.
  Returns:
    the final evaluation metrics, or {} when stopped early.
  Raises:
    config_validation.ConfigError naming every unusable config value;
    errors.UsageError for a dataset or workdir that cannot work (before
    the workdir is created); workdir_lock.WorkdirBusy when another run
    holds the workdir; nonfinite.NonFiniteError; checkpointing.CheckpointError.
  """
  config_validation.validate(config)
  preflight.check_data(config)  # before the workdir exists
  preflight.check_workdir(workdir)
  with (workdir_lock.hold(workdir) if jax.process_index() == 0
        else contextlib.nullcontext()):
    run = _make_run(config, workdir)
    init_key, dropout_key = jax.random.split(jax.random.key(config.seed))
    with sharding_lib.activation_rules(run.mesh):
      state = restore_or_initialise(run, init_key)
      actions = _PeriodicActions(run)
      print(f"Training {config.model.name} on {config.dataset.name}/"
            f"{config.dataset.variant}: {run.info.num_train} clips, "
            f"{run.info.num_classes} classes, {jax.device_count()} devices "
            f"(mesh {dict(run.mesh.shape)})", flush=True)
      state, stopped = train_loop(run, state, dropout_key, actions,
                                  stop_at_step)
      return {} if stopped else _finish(run, state, actions)
