"""Device mesh and shardings: batch split over `data`, parameters replicated.

The same code runs on 1 CPU, 8 fake CPU devices
(XLA_FLAGS=--xla_force_host_platform_device_count=8) and a TPU pod: arrays
are global `jax.Array`s with a `NamedSharding`, `jax.jit` inserts the
collectives (gradient all-reduce, BN statistics over the global batch).
"""
from __future__ import annotations

from typing import Any

import jax
import ml_collections
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

DATA_AXIS = "data"
MODEL_AXIS = "model"


def make_mesh(mesh_cfg: ml_collections.ConfigDict,
              devices: list[jax.Device] | None = None) -> Mesh:
  """Builds a (data, model) mesh; -1 in one axis takes the remaining devices."""
  devices = list(jax.devices() if devices is None else devices)
  data, model = mesh_cfg.data, mesh_cfg.model
  if data == -1 and model == -1:
    raise ValueError("mesh: at most one of mesh.data / mesh.model may be -1")
  if data == -1:
    data = len(devices) // model if model > 0 else 0
  if model == -1:
    model = len(devices) // data if data > 0 else 0
  if data < 1 or model < 1 or data * model != len(devices):
    raise ValueError(
        f"mesh: data={mesh_cfg.data} x model={mesh_cfg.model} does not "
        f"match the {len(devices)} available devices")
  return Mesh(np.asarray(devices).reshape(data, model), (DATA_AXIS, MODEL_AXIS))


def batch_sharding(mesh: Mesh) -> NamedSharding:
  """Leading (batch) axis split over `data`, the rest replicated."""
  return NamedSharding(mesh, P(DATA_AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def state_shardings(mesh: Mesh, abstract_state: Any) -> Any:
  """Sharding of every leaf of the train state: replicated (data parallel).

  The `model` axis is reserved for parameter sharding rules; with only
  data parallelism every leaf is replicated.
  """
  return jax.tree.map(lambda _: replicated(mesh), abstract_state)


def global_batch(local_batch: dict[str, np.ndarray], mesh: Mesh
                 ) -> dict[str, jax.Array]:
  """Assembles this process's slice of the batch into global jax.Arrays."""
  sharding = batch_sharding(mesh)
  return {k: jax.make_array_from_process_local_data(sharding, v)
          for k, v in local_batch.items()}
