r"""Omega_smpl: the pose network with the SMPL loss on joints and landmarks.

Command (the step count of experiments/smplr/run_table1.sh, which produced
the numbers below; the base default is 20,000 steps); add
`--config.smplr.rotation=6d` for the 6D representation (the script's
`omega_smpl_6d` row, which initialises the end-to-end stage, smplr.py):

    python -m experiments.smplr.main \
        --config=experiments/smplr/configs/omega_smpl.py \
        --workdir=workdirs/omega_smpl --config.num_steps=6000

Runtime on the README's 2-core x86_64 CPU machine (AMD EPYC, no GPU),
measured in the run of experiments/smplr/run_table1.sh that produced the
numbers below (workdir creation to results.json): 3.1 minutes for
6,000 steps (2.3 minutes with --config.smplr.rotation=6d), validation and
held-out evaluation included. Training-step throughput: 31.8 steps/s
(README, training-step table).

Expected result, as measured (README "Results", 4,096 held-out bodies,
test_seed 2, true JL in, true shape and gender given):
  * rotation matrices: Jt 26.9 mm, Lm 28.1 mm, Bn 0.4 mm, PA-Jt 25.1 mm,
    surface 41.4 mm (vs 28.3 mm Jt without the SMPL loss, omega.py);
  * 6D: Jt 22.0 mm, Lm 23.3 mm, Bn 0.3 mm, PA-Jt 20.4 mm, surface 35.6 mm;
  * with the training noise on the input: Jt 31.9 mm (matrices), 28.1 mm
    (6D).

For comparison only, the paper's Omega_smpl on SURREAL (docs/paper_facts.md,
Table 1): Jt 63.8 mm (67.8 mm without the SMPL loss).
"""

from experiments.smplr.configs import base


def get_config():
  config = base.base_config()
  config.smplr.parts = ('pose',)
  config.loss_weights.smpl = 1.0
  return config
