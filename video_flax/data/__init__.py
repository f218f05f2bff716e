"""Video datasets and the grain input pipeline.

`DATASETS` maps `config.dataset.name` to a module implementing
`dataset_api.VideoDataset` (records + decode/augment of one record); the
shared shuffle/shard/batch code lives in `pipeline.py`.
"""
from __future__ import annotations

from video_flax.data import dataset_api
from video_flax.data import real_video
from video_flax.data import synthetic_tfds

DATASETS: dict[str, dataset_api.VideoDataset] = {
    "synthetic": synthetic_tfds,
    "kinetics": real_video,
    "ucf101": real_video,
    "hmdb51": real_video,
}


def get_dataset(name: str) -> dataset_api.VideoDataset:
  """The registered dataset `name`; ValueError listing the known ones."""
  if name not in DATASETS:
    raise ValueError(f"Unknown dataset {name!r}; known: "
                     f"{', '.join(sorted(DATASETS))}")
  return DATASETS[name]
