"""Video datasets and the grain input pipeline, in three parts:

  runtime     dataset_api.py (what a dataset provides), pipeline.py (grain:
              shuffle, shard, batch), clip_sampling.py (which frames),
              augment.py (crops, flips, normalisation: every dataset),
              real_video.py + video_source.py (prepared real videos),
              video_records.py + flow_codec.py (the prepared format)
  prepare/    offline: downloaded folders -> prepared shards (its own CLI)
  synthetic/  the procedural motion dataset

`DATASETS` maps `config.dataset.name` to a module implementing
`dataset_api.VideoDataset` (records + decode/augment of one record).
"""
from __future__ import annotations

from video_flax.data import dataset_api
from video_flax.data import real_video
from video_flax.data.synthetic import dataset as synthetic_dataset

DATASETS: dict[str, dataset_api.VideoDataset] = {
    "synthetic": synthetic_dataset,
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
