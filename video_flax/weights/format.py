"""The converted-weights directory: weights_info.json + variables.msgpack.

A directory DIR written by `save` holds
- `weights_info.json`: `WeightsInfo` (model name and kwargs, class names,
  where the weights came from, and the `Preprocessing` they expect);
- `variables.msgpack`: flax.serialization.msgpack_serialize of
  {'params': ..., 'batch_stats': ...} as numpy float32.
Both are written atomically (temp file + os.replace). `load` gives back
(model, variables, info) such that `model.apply(variables, clip,
train=False)` is the logits [B, num_classes] of a clip [B, T, H, W, C]
preprocessed as `info.preprocessing` says. See docs in
/work/notes/WEIGHTS_FORMAT.md (the shared contract) and README.md.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from typing import Any, Mapping

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from video_flax import models
from video_flax import variable_trees

FORMAT_VERSION = 1
INFO_FILE = "weights_info.json"
VARIABLES_FILE = "variables.msgpack"
COLLECTIONS = ("params", "batch_stats")
EVAL_CROPS = ("center", "three", "full")
VALUE_RANGES = ((0.0, 1.0), (-1.0, 1.0))
INPUT_CHANNELS = {"video": 3, "flow": 2}


@dataclasses.dataclass(frozen=True)
class Preprocessing:
  """What a clip must look like for the weights (weights_info.json's
  'preprocessing').

  input_key: 'video', 'flow', or both ('video', 'flow') for two-stream nets.
  fps: frame rate the clip is sampled at (None: the video's own).
  num_frames, frame_stride: clip length and temporal stride (frames at fps).
  resize_short_side, crop_size: the short side is resized, then cropped
    square (eval_crop: 'center', 'three' (along the long side) or 'full').
  channel_order: 'RGB' or 'BGR', the order of the model's input channels
    (and of mean and std).
  mean, std: per channel, applied to pixel values in [0, 1]; the normalised
    values are then mapped linearly from [0, 1] to `value_range`
    (video_views.normalize).
  flow_scale: None or {'clip_px': 20, 'range': [-1, 1]} (flow in pixels is
    clipped to +-clip_px and mapped to range).
  eval_num_clips: clips uniformly spaced over a video at test time.
  """
  num_frames: int
  resize_short_side: int
  crop_size: int
  mean: tuple[float, ...]
  std: tuple[float, ...]
  input_key: str | tuple[str, ...] = "video"
  fps: float | None = None
  frame_stride: int = 1
  channel_order: str = "RGB"
  value_range: tuple[float, float] = (0.0, 1.0)
  flow_scale: Mapping[str, Any] | None = None
  eval_num_clips: int = 10
  eval_crop: str = "center"

  def __post_init__(self):
    for name in ("input_key", "mean", "std", "value_range"):
      value = getattr(self, name)
      if isinstance(value, list):
        object.__setattr__(self, name, tuple(value))
    problems = _preprocessing_problems(self)
    if problems:
      raise ValueError("Invalid preprocessing: " + "; ".join(problems))

  @property
  def input_keys(self) -> tuple[str, ...]:
    """The model's input keys: ('video',), ('flow',) or ('video', 'flow')."""
    key = self.input_key
    return (key,) if isinstance(key, str) else tuple(key)


def _preprocessing_problems(p: Preprocessing) -> list[str]:
  """Every invalid field of `p`, as readable sentences."""
  problems = []
  unknown = [k for k in p.input_keys if k not in INPUT_CHANNELS]
  if unknown or not p.input_keys:
    problems.append(f"input_key {p.input_key!r} is not 'video', 'flow' or "
                    "both")
  for name in ("num_frames", "frame_stride", "resize_short_side",
               "crop_size", "eval_num_clips"):
    if not isinstance(getattr(p, name), int) or getattr(p, name) < 1:
      problems.append(f"{name}={getattr(p, name)!r} is not a positive integer")
  if p.crop_size > p.resize_short_side:
    problems.append(f"crop_size={p.crop_size} exceeds resize_short_side="
                    f"{p.resize_short_side}")
  if len(p.mean) != 3 or len(p.std) != 3 or min(p.std) <= 0:
    problems.append(f"mean {p.mean} / std {p.std} need 3 values, std > 0")
  if p.channel_order not in ("RGB", "BGR"):
    problems.append(f"channel_order {p.channel_order!r} is not RGB or BGR")
  if tuple(float(v) for v in p.value_range) not in VALUE_RANGES:
    problems.append(f"value_range {p.value_range} is not [0, 1] or [-1, 1]")
  if p.eval_crop not in EVAL_CROPS:
    problems.append(f"eval_crop {p.eval_crop!r} is not one of {EVAL_CROPS}")
  if p.fps is not None and p.fps <= 0:
    problems.append(f"fps={p.fps} is not positive")
  return problems


@dataclasses.dataclass(frozen=True)
class WeightsInfo:
  """weights_info.json: which model the variables belong to and how to feed
  it. `source` records the original file ({'format', 'name', 'file',
  'sha256'}); `variables_sha256` the SHA-256 of variables.msgpack, set by
  `save` and checked by `read_variables` ('' in directories written before
  it existed: not checked)."""
  model: str
  num_classes: int
  class_names: tuple[str, ...]
  preprocessing: Preprocessing
  model_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  source: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  format_version: int = FORMAT_VERSION
  variables_sha256: str = dataclasses.field(default="", compare=False)

  def __post_init__(self):
    object.__setattr__(self, "class_names", tuple(self.class_names))
    if isinstance(self.preprocessing, Mapping):
      object.__setattr__(self, "preprocessing",
                         Preprocessing(**self.preprocessing))
    if self.format_version != FORMAT_VERSION:
      raise ValueError(f"format_version {self.format_version} is not "
                       f"supported (this code reads {FORMAT_VERSION})")
    if len(self.class_names) != self.num_classes:
      raise ValueError(f"{len(self.class_names)} class_names for "
                       f"num_classes={self.num_classes}")

  def to_json(self) -> str:
    """The weights_info.json text."""
    return json.dumps(dataclasses.asdict(self), indent=1)

  @classmethod
  def from_json(cls, text: str) -> "WeightsInfo":
    """Parses weights_info.json text; unknown or missing fields fail."""
    data = json.loads(text)
    if not isinstance(data, dict):
      raise ValueError("weights_info.json does not hold a JSON object")
    for klass, fields in ((cls, data), (Preprocessing,
                                        data.get("preprocessing", {}))):
      known = {f.name for f in dataclasses.fields(klass)}
      unknown = sorted(set(fields) - known)
      if unknown:
        raise ValueError(f"unknown {klass.__name__} fields: {unknown}")
    try:
      return cls(**data)
    except TypeError as e:  # a missing required field
      raise ValueError(f"incomplete weights_info.json: {e}") from None

  def build_model(self) -> nn.Module:
    """The registered model with num_classes and model_kwargs."""
    kwargs = {k: tuple(v) if isinstance(v, list) else v
              for k, v in self.model_kwargs.items()}
    if "dtype" in kwargs:
      kwargs["dtype"] = jnp.dtype(kwargs["dtype"])
    return models.build_model(self.model, self.num_classes, **kwargs)


def dummy_inputs(model: nn.Module, preprocessing: Preprocessing,
                 batch_size: int = 1) -> Any:
  """Zeros shaped like a preprocessed clip: [B, T, crop, crop, C] for one
  input key, a {key: array} dict for several (as the model takes them)."""
  keys = getattr(model, "input_keys", preprocessing.input_keys)
  size = preprocessing.crop_size
  arrays = {k: jnp.zeros((batch_size, preprocessing.num_frames, size, size,
                          INPUT_CHANNELS[k]), jnp.float32) for k in keys}
  return arrays[keys[0]] if len(keys) == 1 else arrays


def check_variables(model: nn.Module, preprocessing: Preprocessing,
                    variables: Mapping[str, Any]) -> None:
  """Raises ValueError listing every missing, unexpected and mis-shaped
  variable of `variables` against the model's own (abstract init)."""
  abstract = jax.eval_shape(
      lambda x: model.init({"params": jax.random.key(0),
                            "dropout": jax.random.key(0)}, x, train=False),
      dummy_inputs(model, preprocessing))
  expected = variable_trees.flatten(
      {c: abstract[c] for c in COLLECTIONS if c in abstract})
  given = variable_trees.flatten(dict(variables))
  variable_trees.raise_if_mismatched(
      f"The weights do not fit model {type(model).__name__}.", "weights",
      missing=[f"{p} {v.shape}" for p, v in expected.items() if p not in given],
      unexpected=[f"{p} {np.shape(v)}" for p, v in given.items()
                  if p not in expected],
      misshaped=[f"{p}: weights {np.shape(given[p])} vs model {v.shape}"
                 for p, v in expected.items()
                 if p in given and np.shape(given[p]) != v.shape])


def _write_atomic(path: str, data: bytes) -> None:
  """Writes `data` to a temp file beside `path`, then renames it over."""
  fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp_")
  umask = os.umask(0)
  os.umask(umask)
  try:
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 -> a normal file's mode
    with os.fdopen(fd, "wb") as f:
      f.write(data)
    os.replace(tmp, path)
  except BaseException:
    os.unlink(tmp)
    raise


def save(path: str, info: WeightsInfo, variables: Mapping[str, Any]) -> None:
  """Writes the converted-weights directory `path` (created if needed).

  variables: {'params': ..., 'batch_stats': ...} of `info.build_model()`;
    checked first (ValueError lists every mismatch); stored as float32.
  """
  variables = {c: variables.get(c, {}) for c in COLLECTIONS}
  check_variables(info.build_model(), info.preprocessing, variables)
  host = jax.tree.map(lambda x: np.asarray(x, np.float32),
                      flax.core.unfreeze(variables))
  data = flax.serialization.msgpack_serialize(host)
  info = dataclasses.replace(info,
                             variables_sha256=hashlib.sha256(data).hexdigest())
  os.makedirs(path, exist_ok=True)
  _write_atomic(os.path.join(path, VARIABLES_FILE), data)
  _write_atomic(os.path.join(path, INFO_FILE), info.to_json().encode())


def is_weights_dir(path: str) -> bool:
  """True when `path` is a converted-weights directory (has the info file)."""
  return os.path.isfile(os.path.join(path, INFO_FILE))


def load_info(path: str) -> WeightsInfo:
  """weights_info.json of `path`; errors name the directory and the file."""
  if not os.path.isdir(path):
    raise FileNotFoundError(f"No converted-weights directory {path!r}")
  info_path = os.path.join(path, INFO_FILE)
  if not os.path.isfile(info_path):
    raise FileNotFoundError(
        f"{path!r} is not a converted-weights directory: no {INFO_FILE}")
  with open(info_path) as f:
    text = f.read()
  try:
    return WeightsInfo.from_json(text)
  except ValueError as e:  # json.JSONDecodeError is a ValueError
    raise ValueError(f"{info_path}: {e}") from None


def load(path: str) -> tuple[nn.Module, dict[str, Any], WeightsInfo]:
  """(model, variables, info) of a converted-weights directory.

  `model.apply(variables, clip, train=False)` -> logits [B, num_classes] for
  clip [B, T, H, W, C] preprocessed as info.preprocessing says.
  Raises FileNotFoundError (missing directory or file) or ValueError
  (corrupt file, unknown model, unsupported version, variables that do not
  fit the model), each naming the file.
  """
  info = load_info(path)
  try:
    model = info.build_model()
  except (ValueError, TypeError) as e:
    raise ValueError(f"{os.path.join(path, INFO_FILE)}: {e}") from None
  variables = read_variables(path)
  try:
    check_variables(model, info.preprocessing, variables)
  except ValueError as e:
    raise ValueError(f"{os.path.join(path, VARIABLES_FILE)}: {e}") from None
  return model, variables, info


def read_variables(path: str) -> dict[str, Any]:
  """{'params', 'batch_stats'} (numpy) of `path`'s variables.msgpack, after
  checking its SHA-256 against weights_info.json's; not checked against a
  model (`load` does that; transfer.merge_variables does its own)."""
  variables_path = os.path.join(path, VARIABLES_FILE)
  if not os.path.isfile(variables_path):
    raise FileNotFoundError(f"{path!r}: no {VARIABLES_FILE}")
  expected = load_info(path).variables_sha256
  with open(variables_path, "rb") as f:
    data = f.read()
  if expected and hashlib.sha256(data).hexdigest() != expected:
    raise ValueError(f"{variables_path} is corrupt: its SHA-256 differs from "
                     f"the variables_sha256 {expected[:12]}... recorded in "
                     f"{INFO_FILE} (changed or damaged since it was written)")
  try:
    variables = flax.serialization.msgpack_restore(data)
  except Exception as e:  # msgpack raises several unrelated types
    raise ValueError(f"{variables_path} is corrupt: {type(e).__name__}: "
                     f"{e}") from None
  if not isinstance(variables, dict):
    raise ValueError(f"{variables_path} does not hold a variables dict")
  return {c: variables.get(c, {}) for c in COLLECTIONS}
