"""Non-finite losses and gradients never reach the parameters.

Inside the jitted train step, `keep_if_finite` returns the old parameters,
BN statistics and optimizer state when the loss or any gradient is NaN or
infinite (the step still counts, so the data stream stays aligned), and the
step's metrics carry `skipped` = 1. On the host, `SkipCounter` reads each
step's flag one step late (so the device never waits for the host), prints
every skipped step, and raises NonFiniteError after
`train.max_nonfinite_in_a_row` skipped steps in a row, naming them and the
last good checkpoint. `json_safe` keeps results.json valid JSON.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import jax
import jax.numpy as jnp


class NonFiniteError(RuntimeError):
  """Too many steps in a row with a non-finite loss or gradient."""


def all_finite(tree: Any) -> jax.Array:
  """True (a bool scalar) iff every element of every leaf is finite."""
  leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]
  return jnp.all(jnp.stack(leaves)) if leaves else jnp.bool_(True)


def keep_if_finite(finite: jax.Array, new: Any, old: Any) -> Any:
  """`new` where `finite`, else `old` (leaf by leaf; same structure)."""
  return jax.tree.map(lambda n, o: jnp.where(finite, n, o), new, old)


class SkipCounter:
  """Counts skipped steps from the step metrics' `skipped` flag."""

  def __init__(self, max_in_a_row: int,
               last_checkpoint: Callable[[], str | None]):
    self._max = max_in_a_row
    self._last_checkpoint = last_checkpoint
    self._pending: tuple[int, jax.Array] | None = None
    self.in_a_row = 0
    self.total = 0

  def observe(self, step: int, skipped: jax.Array) -> None:
    """Records step `step`'s flag and checks the previous step's."""
    previous, self._pending = self._pending, (step, skipped)
    if previous is not None:
      self._check(*previous)

  def flush(self) -> None:
    """Checks the last observed step (call before saving or evaluating)."""
    previous, self._pending = self._pending, None
    if previous is not None:
      self._check(*previous)

  def _check(self, step: int, skipped: jax.Array) -> None:
    if not bool(skipped):
      self.in_a_row = 0
      return
    self.in_a_row += 1
    self.total += 1
    print(f"step {step}: non-finite loss or gradient; step skipped, "
          f"parameters unchanged ({self.in_a_row} in a row, {self.total} in "
          f"all)", flush=True)
    if self.in_a_row >= self._max:
      first = step - self.in_a_row + 1
      raise NonFiniteError(
          f"steps {first}-{step}: {self.in_a_row} steps in a row had a "
          f"non-finite loss or gradient (train.max_nonfinite_in_a_row="
          f"{self._max}); stopped without results. The parameters are those "
          f"after step {first - 1}; last good checkpoint: "
          f"{self._last_checkpoint() or 'none'}. Lower train.learning_rate, "
          f"set train.grad_clip_norm or check the data")


def check_state(state: Any, what: str) -> None:
  """NonFiniteError if any parameter or BN statistic of `state` is not
  finite (results are never computed from such a model)."""
  for name in ("params", "batch_stats"):
    if not bool(all_finite(getattr(state, name))):
      raise NonFiniteError(f"{what}: the model's {name} are not all finite; "
                           f"no results are written")


def json_safe(value: Any) -> Any:
  """`value` with NaN and infinite floats replaced by None (valid JSON)."""
  if isinstance(value, float):
    return value if math.isfinite(value) else None
  if isinstance(value, dict):
    return {k: json_safe(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [json_safe(v) for v in value]
  return value
