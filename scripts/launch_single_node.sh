#!/usr/bin/env bash
# One node: `s1train sft` under accelerate on all of its GPUs.
#   scripts/launch_single_node.sh RECIPE [s1train sft options...]
#   NUM_GPUS=8 ACCELERATE_CONFIG=s1train/configs/accelerate/fsdp_offload.yaml scripts/launch_single_node.sh recipes/s1_32b.yaml
# NUM_GPUS defaults to the GPUs nvidia-smi lists; ACCELERATE_CONFIG to FSDP. The global batch stays 16:
# s1train derives the gradient accumulation from the number of processes. DRY_RUN=1 prints the command,
# one argument per line, instead of running it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
recipe="${1:?usage: $0 RECIPE [s1train sft options...]}"; shift
config="${ACCELERATE_CONFIG:-$here/../s1train/configs/accelerate/fsdp.yaml}"
gpus="${NUM_GPUS:-$( (nvidia-smi --list-gpus 2>/dev/null || true) | wc -l)}"
if [ "${gpus:-0}" -lt 1 ]; then
  echo "$0: no GPUs found; set NUM_GPUS, or run \`s1train sft --config $recipe\` directly on one device" >&2
  exit 2
fi
cmd=(accelerate launch --config_file "$config" --num_machines 1 --num_processes "$gpus" --machine_rank 0
     -m s1train.cli sft --config "$recipe" "$@")
if [ -n "${DRY_RUN:-}" ]; then printf '%s\n' "${cmd[@]}"; else exec "${cmd[@]}"; fi
