#!/usr/bin/env bash
# Trains the DAE experiments (one per noise model, and DAE2d), then evaluates
# DAE + SMPLR on noisy JL when a trained SMPLR run exists (run_table1.sh).
# Usage: bash experiments/dae/run_all.sh [WORKROOT] [SMPLR_WORKDIR]
# 14 min 12 s on the README's 2-core x86_64 machine (AMD EPYC, no GPU),
# measured with `time`, the DAE + SMPLR evaluations included. Runs resume.
set -euo pipefail
root=${1:-workdirs/dae}
smplr=${2:-workdirs/table1/smplr}
for name in gaussian uniform structured structured_nodropout dae2d; do
  python -m experiments.dae.main --config="experiments/dae/configs/$name.py" \
    --workdir="$root/$name" --config.progress_bar=False --verbosity=-1
done
if [[ -f "$smplr/results.json" ]]; then
  stitch() {  # run noise
    python -m experiments.dae.evaluate_stitched --verbosity=-1 \
      --dae_workdir="$root/$1" --smplr_workdir="$smplr" --noise="$2" \
      --json_out="$root/stitched_$1.json"
  }
  stitch uniform uniform
  stitch structured structured
  stitch structured_nodropout structured,gaussian
  stitch dae2d structured
else
  echo "No trained SMPLR in $smplr (run experiments/smplr/run_table1.sh);" \
       "skipping DAE + SMPLR." >&2
fi
