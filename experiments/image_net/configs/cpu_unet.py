r"""The CPU image network, U-Net version: 3x3 residual blocks instead of the
hourglass' 1x1 bottlenecks (`smplr_jax.nets.unet`).

Command (resumes from its workdir):

    python -m experiments.image_net.main \
        --config=experiments/image_net/configs/cpu_unet.py \
        --workdir=workdirs/image_net/cpu_unet

`cpu_long.py` with another network and a shorter schedule: the same data,
crop (96 px, 2.5 m), loss (softmax cross-entropy + soft-argmax L1, no
limbs), batch and learning rate, a cosine over 12,000 steps. The network:
widths 32-64-128-256-256 at S/2 ... S/32, 7.0 M parameters against the
hourglass' 0.21 M, 6.5x its FLOPs at 0.5x its images/s (3x3 convolutions
run at 3-4x the hourglass' share of the CPU's matmul peak).

Measured (README "A CPU-efficient image network"): 1.65 hours of training
on the 2-core machine; synthetic test split MPJPE 166.1 mm, PA-MPJPE
127.9 mm, unseen-style set 230 / 156 mm. The weights ship in
`third_party/weights/image_net_cpu_unet`, the start point of
`cpu_unet_styles.py` (whose weights the pipeline loads).
"""

from experiments.image_net.configs import cpu_long
from smplr_jax.nets import unet


def get_config():
  config = cpu_long.get_config()
  config.num_steps = 12_000
  config.model.architecture = 'unet'
  config.model.widths = unet.DEFAULT_WIDTHS
  config.model.blocks = unet.DEFAULT_BLOCKS
  config.model.head_features = 128
  return config
