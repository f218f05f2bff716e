"""Every preset (each file's PRESETS) of every file in configs/, loaded as `main`
loads it.

Each preset validates, names a registered model whose inputs the dataset
provides, and describes a clip its sampling preset and data can give; every
registered model is some preset's. Tiny presets build their train state with
`video_flax.train` on their clip shape (traced) and, with `-m slow`, take a
jitted training step on a zero batch; paper presets are traced at their full
clip size with `-m slow` (nothing is allocated).
"""
from __future__ import annotations

import functools
import glob
import importlib
import math
import os
import re

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from absl import flags
from ml_collections import config_flags

from configs import quo_vadis as quo_vadis_configs
from conftest import REPO_ROOT
from video_flax import base_config
from video_flax import config_validation
from video_flax import evaluate
from video_flax import models
from video_flax import optim
from video_flax import sharding
from video_flax import train
from video_flax.data import clip_sampling
from video_flax.data import real_video
from video_flax.data import dataset_api
from video_flax.data.synthetic import motions

# Configs of other programs than video_flax.main, tested with them.
NOT_TRAINER_CONFIGS = ("configs/transfer_study.py", "configs/__init__.py")
CONFIG_FILES = sorted(
    path for path in (os.path.relpath(p, REPO_ROOT) for p in glob.glob(
        os.path.join(REPO_ROOT, "configs", "*.py")))
    if path not in NOT_TRAINER_CONFIGS)
BATCH = 2


def load(path: str, preset: str | None = None) -> ml_collections.ConfigDict:
  """The locked config `--config=path[:preset]` gives (as in main.py)."""
  flag_values = flags.FlagValues()
  holder = config_flags.DEFINE_config_file("config", flag_values=flag_values,
                                           lock_config=True)
  flag_values(["main", f"--config={os.path.join(REPO_ROOT, path)}"
               + ("" if preset is None else f":{preset}")])
  return holder.value


def preset_names(path: str) -> tuple[str, ...]:
  """The keys of the file's PRESETS."""
  module = importlib.import_module(
      "configs." + os.path.splitext(os.path.basename(path))[0])
  return tuple(module.PRESETS)


ALL_PRESETS = [(path, preset) for path in CONFIG_FILES
               for preset in preset_names(path)]
IDS = [f"{os.path.basename(p)}:{s}" for p, s in ALL_PRESETS]


def dataset_keys(dataset: ml_collections.ConfigDict) -> tuple[str, ...]:
  """Input batch keys the dataset emits (`dataset.streams`)."""
  return dataset_api.stream_keys(dataset)


def clip_shapes(dataset: ml_collections.ConfigDict
                ) -> dict[str, tuple[int, ...]]:
  """Per-example shapes of the input keys in a training batch."""
  size = dataset.crop_size
  if dataset.name != "synthetic" and dataset.clip_sampling:
    spec = clip_sampling.get_preset(dataset.clip_sampling).train
    frames, flow_frames = spec.num_frames, spec.num_frames * spec.flow_per_frame
  else:
    frames = flow_frames = dataset.num_frames
  shapes = {"video": (frames, size, size, 3),
            "flow": (flow_frames, size, size, 2)}
  return {k: shapes[k] for k in dataset_keys(dataset)}


REAL_CLASSES = {"kinetics": 400, "ucf101": 101, "hmdb51": 51}


def num_classes(config: ml_collections.ConfigDict) -> int:
  if config.dataset.name == "synthetic":
    return len(motions.get_variant(config.dataset.variant).classes)
  return REAL_CLASSES[config.dataset.name]


def zero_batch(config: ml_collections.ConfigDict, batch: int = BATCH
               ) -> dict[str, jax.Array]:
  arrays = {k: jnp.zeros((batch, *s), jnp.float32)
            for k, s in clip_shapes(config.dataset).items()}
  arrays["label"] = jnp.arange(batch, dtype=jnp.int32) % num_classes(config)
  return arrays


def is_tiny(config: ml_collections.ConfigDict) -> bool:
  return config.dataset.name == "synthetic" or config.model.name.endswith(
      "_tiny")


@pytest.mark.parametrize("path", CONFIG_FILES)
def test_default_preset_is_tiny_on_synthetic_data(path):
  default = load(path)
  assert default.to_dict() == load(path, "tiny").to_dict()
  assert default.dataset.name == "synthetic"


def test_every_registered_model_has_a_preset():
  named = {load(path, preset).model.name for path, preset in ALL_PRESETS}
  assert named <= set(models.MODELS)
  assert not set(models.MODELS) - named, sorted(set(models.MODELS) - named)


def test_preset_and_options_combine():
  """`preset,key=value,...` as big_vision's config arguments: the options
  set their fields on the preset's config and nothing else."""
  config = load("configs/i3d.py", "i3d_rgb,stage=finetune,init_from=/k400")
  assert (config.transfer.stage, config.transfer.init_from) == (
      "finetune", "/k400")
  reference = load("configs/i3d.py", "i3d_rgb").to_dict()
  reference["transfer"].update(stage="finetune", init_from="/k400")
  assert config.to_dict() == reference
  # Options alone keep the default preset.
  assert load("configs/csn.py", "stage=scratch").model.name == "ir_csn_tiny"


@pytest.mark.parametrize("arg,problem", [
    ("c3d", "unknown preset 'c3d'"),
    ("c3d_bn,tiny", "several presets ['c3d_bn', 'tiny']"),
    ("c3d_bn,lr=0.1", "unknown option 'lr'"),
])
def test_bad_argument_names_the_known_presets_and_options(arg, problem):
  with pytest.raises(ValueError) as err:
    base_config.parse_arg(arg, quo_vadis_configs.PRESETS, "tiny",
                          what="quo_vadis")
  message = str(err.value)
  assert message.startswith(f"quo_vadis argument {arg!r}: {problem}")
  assert "Presets: tiny, c3d_bn_tiny," in message
  assert message.endswith("options: stage=, init_from=")
  # The same error reaches the command line (config_flags wraps it).
  with pytest.raises(flags.IllegalFlagValueError, match=re.escape(problem)):
    load("configs/quo_vadis.py", arg)


@pytest.mark.parametrize("path,preset", ALL_PRESETS, ids=IDS)
def test_preset_is_valid_and_fits_its_data(path, preset):
  config = load(path, preset)
  config_validation.validate(config)
  model = models.from_config(config.model, num_classes(config))
  dataset = config.dataset
  # What the model reads is exactly what the dataset is asked to emit.
  assert set(models.input_keys(model)) == set(dataset_keys(dataset)), (
      models.input_keys(model), dataset.name, dataset.streams)
  if dataset.name == "synthetic":
    variant = motions.get_variant(dataset.variant)
    assert (dataset.num_frames - 1) * dataset.frame_stride < variant.num_frames
    assert dataset.crop_size <= variant.frame_size
    return
  real_video.clip_options(dataset)  # raises on unusable sampling fields
  if dataset.clip_sampling:
    spec = clip_sampling.get_preset(dataset.clip_sampling).train
    assert (dataset.num_frames, dataset.frame_stride) == (
        spec.num_frames, spec.stride)
  if not is_tiny(config):
    assert dataset.name == "kinetics" and dataset.clip_sampling


PAPER_PRESETS = [(p, s) for p, s in ALL_PRESETS if not is_tiny(load(p, s))]


@pytest.mark.slow
@pytest.mark.parametrize("path,preset", PAPER_PRESETS,
                         ids=[f"{os.path.basename(p)}:{s}"
                              for p, s in PAPER_PRESETS])
def test_paper_preset_model_runs_on_its_clip(path, preset):
  """Traced (not compiled) at batch 1: inference logits [1, classes]."""
  config = load(path, preset)
  model = models.from_config(config.model, num_classes(config))
  x = models.model_inputs(model, {
      k: jax.ShapeDtypeStruct((1, *s), jnp.float32)
      for k, s in clip_shapes(config.dataset).items()})
  variables = jax.eval_shape(
      functools.partial(model.init, train=False), jax.random.key(0), x)
  logits = jax.eval_shape(
      functools.partial(model.apply, train=False), variables, x)
  assert logits.shape == (1, num_classes(config))


def _distinct_tiny_presets() -> dict[str, tuple[str, str]]:
  """One (path, preset) per distinct tiny config, so aliases (`tiny` and
  the preset it equals) are compiled once."""
  distinct = {}
  for path, preset in ALL_PRESETS:
    config = load(path, preset)
    if is_tiny(config):
      distinct.setdefault(repr(config.to_dict()), (path, preset))
  return {f"{os.path.basename(p)}:{s}": (p, s) for p, s in distinct.values()}


TINY = _distinct_tiny_presets()


def _train_parts(id_: str):
  """(config, model, optimizer, train step, mesh, zero batch) of a preset."""
  config = load(*TINY[id_])
  k = num_classes(config)
  model = models.from_config(config.model, k)
  tx = optim.make_stage_optimizer(config, optim.make_schedule(config.train))
  step = functools.partial(train.train_step, model=model, tx=tx,
                           num_classes=k,
                           label_smoothing=config.train.label_smoothing)
  return config, model, tx, step, sharding.make_mesh(config.mesh), \
      zero_batch(config)


@pytest.mark.parametrize("id_", list(TINY))
def test_tiny_preset_builds_its_train_state(id_):
  """create_train_state on the preset's clip, traced (nothing compiled), and
  inference logits [B, classes] from that state."""
  config, model, tx, _, mesh, batch = _train_parts(id_)
  state = jax.eval_shape(lambda: train.create_train_state(
      model, tx, jax.random.key(0), batch, mesh))
  logits = jax.eval_shape(
      functools.partial(model.apply, train=False),
      evaluate.variables_of(state), models.model_inputs(model, batch))
  assert logits.shape == (BATCH, num_classes(config))


# Initialising and compiling a training step takes 15-60 s of CPU per tiny
# model on XLA:CPU (the number of layers counts, not their width), so every
# such step is in the slow suite.
@pytest.mark.slow
@pytest.mark.parametrize("id_", list(TINY))
def test_tiny_preset_takes_a_jitted_train_step(id_):
  """On a zero clip every batch norm outputs its offset (0 at init), so the
  logits are the head's zero bias and the loss is exactly log(classes)."""
  config, model, tx, step, mesh, batch = _train_parts(id_)
  state = train.create_train_state(model, tx, jax.random.key(0), batch, mesh)
  new_state, metrics = jax.jit(step)(state, batch, jax.random.key(1))
  np.testing.assert_allclose(float(metrics["loss"]),
                             math.log(num_classes(config)), rtol=1e-6)
  assert int(new_state.step) == 1
  assert all(np.isfinite(x).all()
             for x in jax.tree.leaves(jax.device_get(new_state.params)))


def test_model_inputs_must_match_the_dataset_streams():
  """A flow model reading RGB, an RGB model reading a flow-only stream, or
  an unknown stream is rejected before any compute, naming both sides and
  the fix."""
  config = base_config.get_base_config()
  config.model.name = "i3d_flow_tiny"
  with pytest.raises(config_validation.ConfigError,
                     match=r"i3d_flow_tiny.*\('flow',\).*streams='rgb'.*"
                           r"set dataset.streams='flow'"):
    config_validation.validate(config)
  config.dataset.streams = "flow"
  config_validation.validate(config)  # synthetic flow: fine
  config.dataset.streams = "optical"
  with pytest.raises(config_validation.ConfigError,
                     match=r"streams='optical'; known: rgb, flow, rgb\+flow"):
    config_validation.validate(config)
  config.model.name, config.dataset.streams = "ir_csn_tiny", "rgb"
  config_validation.validate(config)  # RGB on synthetic: fine
  config.dataset.name, config.dataset.streams = "ucf101", "flow"
  with pytest.raises(config_validation.ConfigError,
                     match=r"ir_csn_tiny.*streams='flow'"):
    config_validation.validate(config)


@pytest.mark.parametrize("key,value", [("eval_crop", "full"), ("flip", False),
                                       ("eval_num_clips", 5),
                                       ("normalization", "kinetics")])
def test_real_data_keys_on_the_synthetic_set_are_rejected(key, value):
  """The synthetic set would ignore these; a changed one is named, and the
  same value is fine on a real dataset."""
  config = base_config.get_base_config()
  config_validation.validate(config)
  config.dataset[key] = value
  with pytest.raises(config_validation.ConfigError,
                     match=rf"dataset.{key}={value!r} is read by real video "
                           r"datasets only; synthetic/default"):
    config_validation.validate(config)
  config.dataset.name = "ucf101"
  config_validation.validate(config)
