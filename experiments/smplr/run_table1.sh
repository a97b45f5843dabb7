#!/usr/bin/env bash
# Trains the paper's SMPLR rows of Table 1 on the embedded body model, for
# each seed in SEEDS, and prints mean +- std tables over the seeds.
#
#   [SEEDS="0 1 2"] [STEPS=6000] [NOISE=uniform|authors] \
#       bash experiments/smplr/run_table1.sh [WORKROOT]
#
# Runs go to WORKROOT/seed<k>/<row> and resume. Every row trains STEPS steps;
# SMPLR (end to end) trains STEPS / 2 more from Psi and Omega_smpl (6D), and
# `omega_smpl_6d_long` is its control: Omega_smpl (6D) for the same
# STEPS * 1.5 steps. NOISE is the input noise of training and of the noisy
# evaluation (`smplr_jax.data.noise`: ours, or the authors' table). The held-out
# set (test_seed) is the same for every seed. 30-38 min per seed on the
# README's 2-core machine.
set -euo pipefail
root=${1:-workdirs/table1}
steps=${STEPS:-6000}
seeds=${SEEDS:-0}
noise=${NOISE:-uniform}
for seed in $seeds; do
  dir="$root/seed$seed"
  run() {  # name config [extra flags...]
    local name=$1 config=$2; shift 2
    python -m experiments.smplr.main --config="experiments/smplr/configs/$config.py" \
      --workdir="$dir/$name" --config.num_steps="$steps" --config.progress_bar=False \
      --config.seed="$seed" --config.input_noise="$noise" --verbosity=-1 "$@"
  }
  run psi psi
  run psi_nl psi_nl
  run omega omega
  run omega_6d omega --config.smplr.rotation=6d
  run omega_smpl omega_smpl
  run omega_smpl_6d omega_smpl --config.smplr.rotation=6d
  run omega_smpl_6d_long omega_smpl --config.smplr.rotation=6d \
    --config.num_steps="$((steps * 3 / 2))"
  run smplr smplr --config.init_from.shape="$dir/psi" \
    --config.init_from.pose="$dir/omega_smpl_6d" --config.smplr.rotation=6d \
    --config.num_steps="$((steps / 2))"
  python -m experiments.evaluate --verbosity=-1 \
    --workdirs="$dir/psi,$dir/psi_nl,$dir/omega,$dir/omega_6d,$dir/omega_smpl,$dir/omega_smpl_6d,$dir/omega_smpl_6d_long,$dir/smplr" \
    --json_out="$dir/table1.json" | tee "$dir/table1.md"
done
for variant in clean noisy clean_raw noisy_raw; do
  echo "## $variant"
  python -m experiments.smplr.table1_seeds --root="$root" --variant="$variant" \
    --json_out="$root/table1_$variant.json" | tee "$root/table1_$variant.md"
done
