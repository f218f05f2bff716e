#!/usr/bin/env bash
# Runs one video_flax training job on GPU nodes under SLURM: one process per
# node, each driving all of its node's GPUs.
#
#   sbatch --nodes=4 --gpus-per-node=8 launch/gpu_slurm.sh \
#       configs/csn.py:ir_csn_152 /shared/runs/run1 [--config.x=y ...]
#
# WORKDIR must be one directory every node can write: the processes write
# each checkpoint together into it (orbax), and process 0 writes metrics.
# Each process reads its own shard of every global batch.
#
# Without SLURM, start the same command on every node by hand, naming
# node 0 as the coordinator:
#   python -m video_flax.main --multihost --coordinator_address=NODE0:12355 \
#       --num_processes=N --process_id=I --config=CONFIG --workdir=WORKDIR
#SBATCH --ntasks-per-node=1
#SBATCH --exclusive
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: sbatch [--nodes=N --gpus-per-node=G] $0 CONFIG WORKDIR [extra flags...]" >&2
  exit 2
fi
config=$1 workdir=$2
shift 2
coordinator=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
# SLURM_PROCID is read inside each task, hence the single quotes.
srun bash -c 'exec python3 -m video_flax.main --multihost \
  --coordinator_address='"$coordinator"':12355 \
  --num_processes=$SLURM_NTASKS --process_id=$SLURM_PROCID \
  --config='"$config"' --workdir='"$workdir"' "$@"' _ "$@"
