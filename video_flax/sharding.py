"""Device mesh and shardings: the one place that chooses how arrays split.

The mesh has two axes. `data` splits the batch. `spatial` splits each
clip's height: the input [B, T, H, W, C] is placed as
P('data', None, 'spatial', None, None), and the models name the axes of
their clip-shaped activations (`layers.constrain_clip`: logical axes
batch, time, height, width, channels), which `ACTIVATION_RULES` map onto
the mesh, so every block's output stays split the same way. XLA's SPMD
partitioner inserts the halo exchanges convolutions and pools need, and
reduces BN statistics over the whole global batch, so a step on any layout
computes what one device computes. A level whose height the axis does not
divide (7 rows at stride 32 of a 224 crop) is padded by XLA.

Parameters and optimizer state are replicated: for these 3D CNNs the
memory that runs out is activations (ip-CSN-152 holds 33M parameters,
0.4 GB with momentum and gradients, against tens of GB of activations per
clip batch), so sharding them (FSDP) would add all-gathers for little.

The same code runs on 1 CPU, 8 fake CPU devices
(XLA_FLAGS=--xla_force_host_platform_device_count=8) and a TPU pod: arrays
are global `jax.Array`s with a `NamedSharding`; `jax.jit` inserts the
collectives.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

import flax.linen as nn
import jax
import ml_collections
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

DATA_AXIS = "data"
SPATIAL_AXIS = "spatial"
# Logical activation axis -> mesh axis (layers.CLIP_AXES names the rest,
# which stay whole).
ACTIVATION_RULES = (("batch", DATA_AXIS), ("height", SPATIAL_AXIS))


def make_mesh(mesh_cfg: ml_collections.ConfigDict,
              devices: list[jax.Device] | None = None) -> Mesh:
  """Builds a (data, spatial) mesh; -1 in one axis takes the remaining
  devices. `spatial` is the minor axis: its devices sit in one process."""
  devices = list(jax.devices() if devices is None else devices)
  data, spatial = mesh_cfg.data, mesh_cfg.spatial
  if data == -1 and spatial == -1:
    raise ValueError("mesh: at most one of mesh.data / mesh.spatial may be -1")
  if data == -1:
    data = len(devices) // spatial if spatial > 0 else 0
  if spatial == -1:
    spatial = len(devices) // data if data > 0 else 0
  if data < 1 or spatial < 1 or data * spatial != len(devices):
    raise ValueError(
        f"mesh: data={mesh_cfg.data} x spatial={mesh_cfg.spatial} does not "
        f"match the {len(devices)} available devices")
  return Mesh(np.asarray(devices).reshape(data, spatial),
              (DATA_AXIS, SPATIAL_AXIS))


def input_sharding(mesh: Mesh, ndim: int) -> NamedSharding:
  """A batch array's sharding: clips [B, T, H, W, C] split over data and
  (H) spatial; any other array (labels, masks) over data only."""
  if ndim == 5:
    return NamedSharding(mesh, P(DATA_AXIS, None, SPATIAL_AXIS, None, None))
  return NamedSharding(mesh, P(DATA_AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def state_shardings(mesh: Mesh, abstract_state: Any) -> Any:
  """Sharding of every leaf of the train state: replicated (see above)."""
  return jax.tree.map(lambda _: replicated(mesh), abstract_state)


@contextlib.contextmanager
def activation_rules(mesh: Mesh) -> Iterator[None]:
  """Within it, functions jitted and traced lay out the models' named
  activations on `mesh` by `ACTIVATION_RULES` (outside it they are not
  constrained: the models run unchanged without a mesh)."""
  with jax.set_mesh(mesh), nn.logical_axis_rules(ACTIVATION_RULES):
    yield


def global_batch(local_batch: dict[str, np.ndarray], mesh: Mesh
                 ) -> dict[str, jax.Array]:
  """Assembles this process's slice of the batch into global jax.Arrays
  (the process's rows of the batch, whole clips: the spatial axis lies
  within a process)."""
  return {k: jax.make_array_from_process_local_data(
      input_sharding(mesh, np.ndim(v)), v) for k, v in local_batch.items()}
