#!/usr/bin/env bash
# Several nodes (the paper: 2 x 8 H100): run this once on every node.
#   NODE_RANK=0 MASTER_ADDR=node0 scripts/launch_multi_node.sh RECIPE [s1train sft options...]   # on node 0
#   NODE_RANK=1 MASTER_ADDR=node0 scripts/launch_multi_node.sh RECIPE [s1train sft options...]   # on node 1
# NNODES (default 2), GPUS_PER_NODE (8), MASTER_PORT (29500), ACCELERATE_CONFIG (FSDP). With 16 processes the
# gradient accumulation is 1, as in the paper; the run is 315 optimizer steps on s1K whatever the GPU count.
# DRY_RUN=1 prints the command, one argument per line, instead of running it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
recipe="${1:?usage: NODE_RANK=.. MASTER_ADDR=.. $0 RECIPE [s1train sft options...]}"; shift
: "${NODE_RANK:?set NODE_RANK (0 on the first node, 1 on the second, ...)}"
: "${MASTER_ADDR:?set MASTER_ADDR to the host name or IP of the node with NODE_RANK=0}"
nnodes="${NNODES:-2}"; per_node="${GPUS_PER_NODE:-8}"
config="${ACCELERATE_CONFIG:-$here/../s1train/configs/accelerate/fsdp.yaml}"
cmd=(accelerate launch --config_file "$config" --num_machines "$nnodes" --num_processes "$((nnodes * per_node))"
     --machine_rank "$NODE_RANK" --main_process_ip "$MASTER_ADDR" --main_process_port "${MASTER_PORT:-29500}"
     -m s1train.cli sft --config "$recipe" "$@")
if [ -n "${DRY_RUN:-}" ]; then printf '%s\n' "${cmd[@]}"; else exec "${cmd[@]}"; fi
