#!/usr/bin/env bash
# Trains the paper's SMPLR rows of Table 1 on the embedded body model and
# prints the table. Usage: bash experiments/smplr/run_table1.sh [WORKROOT]
# Steps are sized for a 2-core CPU: 19 min 6 s in all on the README's 2-core
# x86_64 machine (AMD EPYC, no GPU), measured with `time`. Runs resume.
set -euo pipefail
root=${1:-workdirs/table1}
steps=${STEPS:-6000}
run() {  # name config [extra flags...]
  local name=$1 config=$2; shift 2
  python -m experiments.smplr.main --config="experiments/smplr/configs/$config.py" \
    --workdir="$root/$name" --config.num_steps="$steps" --config.progress_bar=False \
    --verbosity=-1 "$@"
}
run psi psi
run psi_nl psi_nl
run omega omega
run omega_6d omega --config.smplr.rotation=6d
run omega_smpl omega_smpl
run omega_smpl_6d omega_smpl --config.smplr.rotation=6d
run smplr smplr --config.init_from.shape="$root/psi" \
  --config.init_from.pose="$root/omega_smpl_6d" --config.smplr.rotation=6d \
  --config.num_steps="$((steps / 2))"
python -m experiments.evaluate --verbosity=-1 \
  --workdirs="$root/psi,$root/psi_nl,$root/omega,$root/omega_6d,$root/omega_smpl,$root/omega_smpl_6d,$root/smplr" \
  --json_out="$root/table1.json" | tee "$root/table1.md"
