r"""Psi: the shape network on bone lengths of joints + landmarks (Table 1).

Command (the step count of experiments/smplr/run_table1.sh, which produced
the numbers below; without --config.num_steps the run takes the base
config's 20,000 steps):

    python -m experiments.smplr.main --config=experiments/smplr/configs/psi.py \
        --workdir=workdirs/psi --config.num_steps=6000

Runtime on the README's 2-core x86_64 CPU machine (AMD EPYC, no GPU),
measured in the run of experiments/smplr/run_table1.sh that produced the
numbers below (workdir creation to results.json): 2.4 minutes for 6,000
steps with validation and held-out evaluation. Training-step throughput:
56.7 steps/s (README, training-step table), so 20,000 steps train in about
6 minutes.

Expected result, as measured (README "Results", 4,096 held-out bodies,
test_seed 2, true JL in, true pose given): Jt 4.6 mm, Lm 5.2 mm, Bn 1.8 mm,
PA-Jt 2.6 mm, surface 5.9 mm, gender accuracy 100%; with the training noise
on the input, Jt 5.8 mm, Lm 6.6 mm.

For comparison only, the paper's Psi on SURREAL (docs/paper_facts.md,
Table 1): Jt 14.4, Lm 11.5, Bn 6.6 mm, gender accuracy 89.5%.
"""

from experiments.smplr.configs import base


def get_config():
  config = base.base_config()
  config.smplr.parts = ('shape',)
  return config
