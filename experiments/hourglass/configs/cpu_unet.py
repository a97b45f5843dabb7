r"""The CPU image network, U-Net version: 3x3 residual blocks instead of the
hourglass' 1x1 bottlenecks (`smplr_jax.unet`).

Command (resumes from its workdir):

    python -m experiments.hourglass.main \
        --config=experiments/hourglass/configs/cpu_unet.py \
        --workdir=workdirs/hourglass/cpu_unet

Same data, crop (96 px, 2.5 m), loss (softmax cross-entropy + soft-argmax
L1, no limbs) and schedule shape as `cpu_long.py`; only the network differs:
widths 32-64-128-256-256 at S/2 ... S/32, 7.0 M parameters against the
hourglass' 0.21 M, 6.5x its FLOPs at 0.6x its images/s (3x3 convolutions
run at 3-4x the hourglass' share of the CPU's matmul peak).
"""

from experiments.hourglass.configs import base
from smplr_jax import unet


def get_config():
  config = base.base_config(input_size=96, num_stacks=1, num_features=64,
                            num_steps=12_000)
  config.model.architecture = 'unet'
  config.model.widths = unet.DEFAULT_WIDTHS
  config.model.blocks = unet.DEFAULT_BLOCKS
  config.model.head_features = 128
  config.batch_size = 16
  config.learning_rate = 1e-3
  config.final_learning_rate = 1e-5
  config.loss.point_loss = 'softmax_ce'
  config.loss.l1_weight = 1.0
  config.loss.limb_weight = 0.0
  config.data.builder_config = 'n32768_v512_t1024_s0'
  config.eval_every = 2000
  config.log_every = 100
  config.keep_checkpoints = 20
  return config
