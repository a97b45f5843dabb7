r"""The U-Net, trained on: a warm restart from the shipped `cpu_unet.py`
weights, with shadows, defocus and sensor noise added to the styles.

Command (resumes from its workdir; the start point ships in
`third_party/weights/image_net_cpu_unet/`):

    python -m experiments.image_net.main \
        --config=experiments/image_net/configs/cpu_unet_styles.py \
        --workdir=workdirs/image_net/cpu_unet_styles

Why: `cpu_unet.py` ended (1.65 h) with its training error on augmented
crops (205 mm) above its test error (166 mm), still falling: it underfits,
so the rest of the issue's 3-hour budget goes to more steps of the same
network rather than a new one. Its test / unseen-style gap (166 vs 230 mm)
says the styles limit generalisation, so the restart also widens them with
what real photographs vary and our renders lack: cast shadows (`shadow`),
out-of-focus or low-resolution pictures (`blur`) and sensor noise. None of
them is in the unseen-style set. Adam starts afresh, hence the warm-up.

Measured (README "A CPU-efficient image network"): 1.05 hours of training
on the 2-core machine (2.70 h with cpu_unet's 1.65); synthetic test split
MPJPE 154.9 mm, PA-MPJPE 120.9 mm (from 166.1 / 127.9), unseen-style set
226 / 154 mm (from 230 / 156). These are the shipped weights,
`third_party/weights/image_net`.
"""

from experiments.image_net.configs import cpu_unet


def get_config():
  config = cpu_unet.get_config()
  config.init_from = 'third_party/weights/image_net_cpu_unet'
  config.num_steps = 8_400  # after cpu_unet's 12,000: under 3 h in all
  config.warmup_steps = 300
  config.learning_rate = 5e-4
  config.final_learning_rate = 1e-5
  config.augment.shadow.enabled = True
  config.augment.blur.enabled = True
  config.augment.colour.pixel_noise_std = 0.015
  config.eval_every = 1_400
  return config
