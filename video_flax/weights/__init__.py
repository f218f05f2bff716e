"""Converted weights: one directory format (weights_info.json +
variables.msgpack) that the trainer, `predict` and `extract_features` read."""
from video_flax.weights.format import is_weights_dir
from video_flax.weights.format import load
from video_flax.weights.format import load_info
from video_flax.weights.format import Preprocessing
from video_flax.weights.format import read_variables
from video_flax.weights.format import save
from video_flax.weights.format import WeightsInfo
