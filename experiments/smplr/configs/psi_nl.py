r"""Psi_nL: the shape network without landmarks (skeleton bones only).

Command (the step count of experiments/smplr/run_table1.sh, which produced
the numbers below; the base default is 20,000 steps):

    python -m experiments.smplr.main \
        --config=experiments/smplr/configs/psi_nl.py --workdir=workdirs/psi_nl \
        --config.num_steps=6000

Runtime on the README's 2-core x86_64 CPU machine (AMD EPYC, no GPU),
measured in the run of experiments/smplr/run_table1.sh that produced the
numbers below (workdir creation to results.json): 2.0 minutes for 6,000
steps with validation and held-out evaluation.

Expected result, as measured (README "Results", 4,096 held-out bodies,
test_seed 2, true JL in, true pose given): Jt 4.7 mm, Lm 6.2 mm, Bn 2.4 mm,
PA-Jt 2.9 mm, surface 6.2 mm, gender accuracy 100%; with the training noise
on the input, Jt 6.2 mm, Lm 7.7 mm. Compare Psi (psi.py): landmarks lower
the landmark error from 6.2 to 5.2 mm and the bone error from 2.4 to 1.8 mm.

For comparison only, the paper's Psi_nL on SURREAL (docs/paper_facts.md,
Table 1): Jt 14.3, Lm 14.3, Bn 6.6 mm.
"""

from experiments.smplr.configs import base


def get_config():
  config = base.base_config()
  config.smplr.parts = ('shape',)
  config.smplr.shape_inputs = 'joints'
  return config
