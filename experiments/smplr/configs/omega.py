r"""Omega: the pose network, L1 on rotation matrices only (Table 1).

Command (the step count of experiments/smplr/run_table1.sh, which produced
the numbers below; the base default is 20,000 steps); add
`--config.smplr.rotation=6d` for the 6D representation (the script's
`omega_6d` row):

    python -m experiments.smplr.main --config=experiments/smplr/configs/omega.py \
        --workdir=workdirs/omega --config.num_steps=6000

Runtime on the README's 2-core x86_64 CPU machine (AMD EPYC, no GPU),
measured in the run of experiments/smplr/run_table1.sh that produced the
numbers below (workdir creation to results.json): 3.0 minutes for 6,000
steps (2.2 minutes with --config.smplr.rotation=6d), validation and
held-out evaluation included. Training-step throughput: 37.9 steps/s
(README, training-step table).

Expected result, as measured (README "Results", 4,096 held-out bodies,
test_seed 2, true JL in, true shape and gender given):
  * rotation matrices: Jt 28.3 mm, Lm 30.2 mm, Bn 0.3 mm, PA-Jt 23.7 mm,
    surface 45.1 mm;
  * 6D: Jt 28.2 mm, Lm 30.3 mm, Bn 0.3 mm, PA-Jt 23.2 mm, surface 45.1 mm;
  * with the training noise on the input: Jt 34.0 mm (the README gives one
    noisy figure for Omega).

For comparison only, the paper's Omega on SURREAL (docs/paper_facts.md,
Table 1): Jt 67.8 mm.
"""

from experiments.smplr.configs import base


def get_config():
  config = base.base_config()
  config.smplr.parts = ('pose',)
  return config
