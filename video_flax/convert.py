"""Converts published checkpoints into this project's weights directory.

  python -m video_flax.convert --source=torchvision --model=r3d_18 \\
      --input=r3d_18-b3b3357e.pth --output=weights/r3d_18
  python -m video_flax.convert --fetch=torchvision:r3d_18

--source: torchvision (r3d_18, mc3_18, r2plus1d_18, s3d), vmz (ir_csn_152,
ip_csn_152, r2plus1d_34, r2plus1d_34_8) or kinetics_i3d (rgb, flow; --input
is the checkpoint prefix or its .index file). PyTorch files are read by a
restricted unpickler (no torch needed, nothing in the file runs);
.safetensors works too. --fetch=SOURCE:MODEL[:VARIANT] downloads from the
publisher (progress on stderr), checks the published hash, converts into
~/.cache/video_flax/weights/SOURCE_MODEL_VARIANT (or --output) and prints
that directory. The output loads with `video_flax.weights.load(DIR)` and
as `transfer.init_from=DIR`.
"""
from __future__ import annotations

import os
import sys

from absl import flags

from video_flax import errors
from video_flax import file_digest
from video_flax.weights import converters, fetch, sources
from video_flax.weights import format as weights_format

FLAGS = flags.FLAGS
flags.DEFINE_enum("source", None, list(sources.PUBLISHED),
                  "Checkpoint format of --input.")
flags.DEFINE_string("model", None, "Source model name, e.g. r3d_18.")
flags.DEFINE_string("input", None, "Checkpoint file (.pth, .safetensors, or "
                    "a TF checkpoint prefix / .index).")
flags.DEFINE_string("output", None, "Directory to write the converted weights "
                    "to (--fetch: defaults to the cache).")
flags.DEFINE_string("labels", None, "Class names, one per line, in the "
                    "checkpoint's class order (default: the list shipped for "
                    "the source; kinetics-i3d: its data/label_map.txt found "
                    "beside the checkpoint).")
flags.DEFINE_string("fetch", None, "SOURCE:MODEL[:VARIANT] to download and "
                    "convert, e.g. torchvision:r3d_18, vmz:ir_csn_152, "
                    "kinetics_i3d:rgb:imagenet.")


def _label_map_near(path: str) -> tuple[str, ...] | None:
  """kinetics-i3d keeps data/label_map.txt two levels above
  data/checkpoints/rgb_imagenet/model.ckpt; looks there and beside it."""
  here = os.path.dirname(os.path.abspath(path))
  for folder in (here, os.path.dirname(here), os.path.dirname(
      os.path.dirname(here))):
    candidate = os.path.join(folder, "label_map.txt")
    if os.path.isfile(candidate):
      return sources.read_labels(candidate)
  return None


def convert_checkpoint(source: str, name: str, path: str, output: str,
                       labels: str | None = None,
                       source_info: dict | None = None,
                       model: str | None = None) -> weights_format.WeightsInfo:
  """Reads `path`, converts it and writes the weights directory `output`.

  model: another registered model with the layout and names of the
  source's (converters.convert; tests use small ones).
  """
  tensors = converters.read_checkpoint(path, source)
  class_names = sources.read_labels(labels) if labels else None
  if class_names is None and source == "kinetics_i3d":
    class_names = _label_map_near(path)
  data_file = (converters.checkpoint_prefix(path) + ".data-00000-of-00001"
               if source == "kinetics_i3d" else path)
  info = {"file": os.path.basename(data_file),
          "sha256": file_digest.sha256_of_file(data_file), **(source_info or {})}
  weights_info, variables = converters.convert(
      source, name, tensors, class_names=class_names, model=model,
      source_info=info)
  weights_format.save(output, weights_info, variables)
  return weights_info


def fetch_and_convert(spec: str, output: str | None) -> str:
  """Downloads SOURCE:MODEL[:VARIANT], converts it; returns the directory."""
  parts = spec.split(":")
  if len(parts) not in (2, 3):
    raise ValueError(f"--fetch={spec!r}: expected SOURCE:MODEL[:VARIANT]")
  entry = sources.published(parts[0], parts[1])
  variant = parts[2] if len(parts) == 3 else next(iter(entry.urls))
  if variant not in entry.urls:
    raise ValueError(f"Unknown variant {variant!r} of {parts[0]}:{parts[1]}; "
                     f"known: {', '.join(entry.urls)}")
  output = output or os.path.join(fetch.CACHE_DIR, "weights",
                                  f"{parts[0]}_{parts[1]}_{variant}")
  if weights_format.is_weights_dir(output):
    return output
  url = entry.urls[variant]
  labels = None
  if parts[0] == "kinetics_i3d":
    fetch.cached_download(url + ".index")
    labels, _ = fetch.cached_download(sources.I3D_LABEL_MAP_URL)
    url += ".data-00000-of-00001"
  path, sha256 = fetch.cached_download(url)
  if fetch.published_hash_prefix(url) is None:
    print(f"note: {os.path.basename(path)} publishes no hash; recorded its "
          f"SHA-256 {sha256} unverified", file=sys.stderr)
  convert_checkpoint(parts[0], parts[1], path, output, labels,
                     {"url": url, "variant": variant})
  return output


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise errors.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
  missing = [f"--{n}" for n in ("source", "model", "input", "output")
             if not getattr(FLAGS, n)]
  if missing and not FLAGS.fetch:
    raise errors.UsageError(f"Give --fetch, or all of {', '.join(missing)}")
  try:
    if FLAGS.fetch:
      output = FLAGS.output and os.path.expanduser(FLAGS.output)
      print(fetch_and_convert(FLAGS.fetch, output))
      return
    info = convert_checkpoint(FLAGS.source, FLAGS.model,
                              os.path.expanduser(FLAGS.input),
                              os.path.expanduser(FLAGS.output), FLAGS.labels)
    print(f"{FLAGS.output}: {info.model}, {info.num_classes} classes")
  except fetch.OfflineError as e:
    sys.exit(f"video_flax.convert: offline: {e}")
  except (ValueError, FileNotFoundError) as e:
    sys.exit(f"video_flax.convert: {e}")


if __name__ == "__main__":
  errors.run(main)
