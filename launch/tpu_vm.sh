#!/usr/bin/env bash
# Runs one video_flax training job on every worker of a Cloud TPU VM slice.
#
#   launch/tpu_vm.sh TPU_NAME ZONE configs/csn.py:ir_csn_152 gs://bucket/run1 [--config.x=y ...]
#
# Every worker runs the same command with --multihost; JAX finds its peers
# through the TPU metadata, each process reads its own shard of the data, and
# process 0 writes metrics. The repo is copied to the workers and installed.
set -euo pipefail
if [ $# -lt 4 ]; then
  echo "usage: $0 TPU_NAME ZONE CONFIG WORKDIR [extra flags...]" >&2
  exit 2
fi
tpu=$1 zone=$2 config=$3 workdir=$4
shift 4
repo=$(cd "$(dirname "$0")/.." && pwd)
gcloud compute tpus tpu-vm scp --recurse "$repo" "$tpu":~/video_flax \
  --zone "$zone" --worker=all
gcloud compute tpus tpu-vm ssh "$tpu" --zone "$zone" --worker=all --command "
  set -e
  cd ~/video_flax
  python3 -m pip install -q -e . 'jax[tpu]' \
    -f https://storage.googleapis.com/jax-releases/libtpu_releases.html
  python3 -m video_flax.main --multihost --config=$config --workdir=$workdir $*
"
