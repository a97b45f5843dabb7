r"""The SMPLR shipped in `third_party/weights/smplr/` (used by `load_pipeline`).

Command:

    python -m experiments.smplr.main --config=experiments/smplr/configs/shipped.py \
        --workdir=workdirs/ship/smplr

Psi + Omega (6D rotations, our improvement over the paper's matrices) with
the SMPL loss, trained jointly from scratch on camera-frame synthetic bodies
(`sampler`, frame='camera': any heading, the renderer's elevations, the
augmentation's in-plane roll) with the training noise of `base.py` on the
input; batch 128, learning rate 1e-3 decayed to 1e-5 over 8,000 steps, seed
0. The quickstart trains the same config for fewer steps.
"""

from experiments.smplr.configs import smplr


def get_config():
  config = smplr.get_config()
  config.num_steps = 8000
  config.batch_size = 128
  config.learning_rate = 1e-3
  config.final_learning_rate = 1e-5
  config.log_every = 200
  config.eval_every = 2000
  config.smplr.rotation = '6d'
  config.test_set_size = 1024
  config.validation_size = 256
  return config
