r"""SMPLR end to end: Omega + Psi + SMPL, initialised from trained Omega, Psi.

Command for the README's measured row (as experiments/smplr/run_table1.sh
runs it: 6D rotations, 3,000 steps, initialised from the Psi run of psi.py
and the 6D Omega_smpl run of omega_smpl.py with --config.smplr.rotation=6d):

    python -m experiments.smplr.main --config=experiments/smplr/configs/smplr.py \
        --workdir=workdirs/smplr --config.num_steps=3000 \
        --config.smplr.rotation=6d \
        --config.init_from.shape=workdirs/psi \
        --config.init_from.pose=workdirs/omega_smpl_6d

Without those overrides the run uses this file's defaults: rotation
matrices (the paper's) and 10,000 steps.

Runtime on the README's 2-core x86_64 CPU machine (AMD EPYC, no GPU),
measured in the run of experiments/smplr/run_table1.sh that produced the
numbers below (workdir creation to results.json): 2.9 minutes for 3,000
steps from the trained Psi and Omega_smpl (6D) runs, validation and
held-out evaluation included.

Expected result, as measured (README "Results", 4,096 held-out bodies,
test_seed 2, true JL in, everything predicted): Jt 21.3 mm, Lm 22.8 mm,
Bn 1.9 mm, PA-Jt 19.9 mm, surface 34.6 mm, gender accuracy 100%; with the
training noise on the input, Jt 27.9 mm.

The paper has no row for SMPLR on true JL; its SMPLR numbers start from
image predictions (for comparison only, docs/paper_facts.md: Table 1
DAE + Psi + Omega 66.0 mm Jt on SURREAL, Table 3 surface 75.4 mm).

Losses: L1 pose + L1 betas + gender + L1 SMPL joints/landmarks, equal weights;
learning rate 1e-4 as in the authors' end-to-end stage.
"""

from experiments.smplr.configs import base


def get_config():
  config = base.base_config()
  config.smplr.parts = ('shape', 'pose')
  config.loss_weights.smpl = 1.0
  config.learning_rate = 1e-4
  config.final_learning_rate = 1e-6
  config.num_steps = 10_000
  return config
