r"""A CPU-sized hourglass: 2 stacks, 64 features, 128 x 128 input, 32x32x16.

Command:

    python -m experiments.image_net.main \
        --config=experiments/image_net/configs/cpu.py \
        --workdir=workdirs/image_net/cpu

Trains on the rendered `smplr_synthetic/small` (4,096 training images,
built on first use) with all augmentations: 600 steps of batch 16.

Runtime on the README's 2-core x86_64 CPU machine (AMD EPYC, no GPU):
16 minutes in the README's measured run ("A CPU run, and what it shows").
For scale: the benchmark's 18.0 images/s for this config's train step
(README, hourglass throughput table) make the 9,600 training images about
9 minutes; the rest is start-up, compilation and evaluation, and building
the dataset on first use (4,608 renders, roughly 2 minutes at the README's
544 examples in 16 s).

Expected result, as measured (README "A CPU run"): at step 600 loss 0.19,
cross-entropy 0.023, training soft-argmax error 336 mm; on the test split
MPJPE 308 mm, PA-MPJPE 254 mm, cube-frame error 328 mm. At this length the
network has only learned the mean pose (every prediction is the same
upright body); it shows the pipeline runs and the loss falls, not accuracy.
For comparison only, the paper's 5-stack SHN reached 61.9 mm Jt on SURREAL
(docs/paper_facts.md, Table 1).
"""

from experiments.image_net.configs import base


def get_config():
  config = base.base_config(input_size=128, num_stacks=2, num_features=64,
                            num_steps=600)
  config.batch_size = 16
  config.learning_rate = 1e-3
  # The paper's cross-entropy alone first learns the empty volume: after 300
  # steps the soft-argmax was still ~480 mm off (the cube's centre). The L1
  # on the soft-argmax (metres) drives the coordinates from the start.
  config.loss.l1_weight = 1.0
  return config
