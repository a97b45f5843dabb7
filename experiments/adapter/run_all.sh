#!/usr/bin/env bash
# Trains the keypoint adapters and exports the shipped ones (float16) to
# third_party/weights/adapters/<name>. From the repository root:
#   bash experiments/adapter/run_all.sh [workdir root, default workdirs/adapter]
# The shipped blazepose33_3d also learns from BlazePose's own outputs on
# renders, which needs the detector extra (pip install -e ".[detector]");
# without it that step is skipped. About 35 minutes on the 2-core CPU
# machine.
set -euo pipefail
root=${1:-workdirs/adapter}
train() {  # config name, workdir name
  start=$(date +%s)
  python -m experiments.adapter.main \
      --config=experiments/adapter/configs/$1.py --workdir=${root}/$2 \
      --config.progress_bar=False
  echo "$2: $(( $(date +%s) - start )) s"
}
export_weights() {  # workdir name, shipped name
  python -m experiments.tools.export_weights --workdir=${root}/$1 \
      --output=third_party/weights/adapters/$2
}
for name in blazepose33_2d coco17_2d h36m17_3d; do
  train ${name} ${name}
  export_weights ${name} ${name}
done
train blazepose33_3d blazepose33_3d  # synthetic noise only, for comparison
if python -c 'import sys; from smplr_jax import detector
sys.exit(detector.availability() is not None)'; then
  python -m experiments.adapter.detect_pairs --split=train --num_images=4096 \
      --output=workdirs/pairs/blazepose_train.npz
  python -m experiments.adapter.detect_pairs --split=validation \
      --num_images=512 --output=workdirs/pairs/blazepose_validation.npz
  train blazepose33_3d_paired blazepose33_3d_paired
  export_weights blazepose33_3d_paired blazepose33_3d
else
  echo "no working mediapipe: blazepose33_3d exported without BlazePose pairs"
  export_weights blazepose33_3d blazepose33_3d
fi
