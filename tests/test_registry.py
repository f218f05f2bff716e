"""The model registry: one entry per name with its constructor, input keys
and reference clip; `from_config` and `model_inputs` for every caller."""
from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np
import pytest

from video_flax import base_config
from video_flax import models
from video_flax.models import inception
from video_flax.models import lstm
from video_flax.models import s3d
from video_flax.models import two_stream


def test_every_entry_has_input_keys_and_a_reference_clip():
  for name, entry in models.MODELS.items():
    assert set(entry.input_keys) <= {"video", "flow"} and entry.input_keys, name
    t, h, w = entry.reference_shape
    assert min(t, h, w) >= 1 and h == w, (name, entry.reference_shape)
  # Papers' clips (../shared/docs/reference-numbers.md from the repo root).
  assert models.MODELS["r3d_18"].reference_shape == (16, 112, 112)
  assert models.MODELS["ir_csn_152"].reference_shape == (32, 224, 224)
  assert models.MODELS["i3d_rgb"].reference_shape == (64, 224, 224)
  assert models.MODELS["i3d_rgb_tiny"].reference_shape == models.TINY_SHAPE
  assert models.MODELS["i3d_flow"].input_keys == ("flow",)
  assert models.MODELS["two_stream_i3d"].input_keys == ("video", "flow")
  assert models.MODELS["ir_csn_tiny"].input_keys == models.DEFAULT_INPUT_KEYS


def test_merging_registries_fails_on_a_repeated_name():
  assert models.merge_registries({"a": 1}, {"b": 2}) == {"a": 1, "b": 2}
  with pytest.raises(ValueError, match="registered twice: b"):
    models.merge_registries({"a": 1, "b": 2}, {"b": 3})


def test_from_config_passes_every_field_but_name_and_parses_dtype():
  cfg = base_config.get_base_config().model
  cfg.name, cfg.dropout_rate, cfg.dtype = "i3d_rgb_tiny", 0.25, "bfloat16"
  model = models.from_config(cfg, num_classes=7)
  assert isinstance(model, inception.InceptionV1)
  assert (model.num_classes, model.dropout_rate) == (7, 0.25)
  assert model.dtype == jnp.bfloat16 and model.width == inception.TINY["width"]
  cfg.name = "no_such_net"
  with pytest.raises(ValueError, match="Unknown model 'no_such_net'"):
    models.from_config(cfg, num_classes=7)


def test_model_inputs_one_key_is_the_array_several_a_dict():
  batch = {"video": np.zeros(1), "flow": np.ones(1), "label": np.zeros(1)}
  assert models.model_inputs(models.build_model("ir_csn_tiny", 3),
                             batch) is batch["video"]
  assert models.model_inputs(models.build_model("i3d_flow_tiny", 3),
                             batch) is batch["flow"]
  assert models.model_inputs(models.build_model("two_stream_i3d_tiny", 3),
                             batch) == {"video": batch["video"],
                                        "flow": batch["flow"]}


@pytest.mark.parametrize("cls", [
    inception.InceptionV1, inception.InceptionV1Backbone, s3d.S3D,
    lstm.ConvNetLSTM, two_stream.TwoStreamLateFusion,
    two_stream.TwoStream3DFused, two_stream.TwoStreamI3D])
def test_inception_family_shares_one_declaration_of_its_size_options(cls):
  assert issubclass(cls, inception.BackboneSize)
  own = {f.name for f in dataclasses.fields(cls)}
  assert set(inception.backbone_options(
      inception.BackboneSize(width=0.5))) <= own
  declared_here = set(cls.__dict__.get("__annotations__", {}))
  assert not declared_here & {"width", "min_width", "blocks_per_stage",
                              "stem_pools", "remat"}


def test_backbone_options_reach_the_backbone():
  model = models.build_model("s3d_tiny", 3, blocks_per_stage=[1, 2, 1])
  assert inception.backbone_options(model.clone(remat=True)) == {
      "width": 0.125, "min_width": 8, "blocks_per_stage": (1, 2, 1),
      "stem_pools": True, "remat": True}
