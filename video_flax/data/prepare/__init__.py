"""Offline preparation: a downloaded dataset folder -> prepared shards.

    python -m video_flax.data.prepare --dataset ucf101 --root ~/UCF101 \\
        --out ~/data/ucf101 [--fps 25] [--short_side 256] [--flow] \\
        [--flow_backend jax|opencv] [--num_workers 8]

  listing.py      what a dataset's official files list (VideoEntry, splits)
  kinetics.py, ucf101.py, hmdb51.py   the listing of each dataset
  decode.py       PyAV decoding: fps resampling, resize, skip reasons
  flow.py         TV-L1 optical flow (backends: video_flax.flow in JAX, OpenCV)
  encode.py       one video -> one record (or why it is skipped)
  shards.py       the resumable, parallel run writing shards + reports
  __main__.py     the command line (absl flags)
  video_writer.py writing video files (test fixtures, benchmarks)

The record format they write is video_records.py, read at training time by
real_video.py; nothing here is imported by the training pipeline.
"""
