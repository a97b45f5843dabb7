r"""The paper's hourglass: 5 stacks, 256 features, 256 x 256 input, 64x64x16.

Command:

    python -m experiments.image_net.main \
        --config=experiments/image_net/configs/paper.py \
        --workdir=workdirs/image_net/paper

A GPU run: batch 8 (the authors used 6-10), Adam at 1e-3 with cosine decay,
200,000 steps on `smplr_synthetic/large` (100,000 training renders, built on
first use). The authors trained for about 10 days on one GPU; this config is
the architecture at full size, not a reproduction of that schedule.

Runtime: never run to completion, and not timed on a GPU. On the README's
2-core x86_64 CPU machine (AMD EPYC, no GPU) it is impractical: the README
measures 915 GFLOP per training step at batch 8, and a (smaller) 2-stack,
128-feature train step sustained 45.5 GFLOP/s there (README, hourglass
throughput table): about 20 s per step, 6 to 7 weeks for 200,000 steps. Building
`large` (104,000 renders) at the README's 544 examples in 16 s takes about
50 minutes on that machine. XLA's memory analysis of the step: 5.6 GiB peak
(README).

Expected result: none measured (16,270,608 parameters, asserted in
tests/test_hourglass.py). For comparison only, the paper's hourglass on
SURREAL (docs/paper_facts.md, Table 1): 61.9 mm Jt (SHN), 53.0 mm with
augmentation and limb heatmaps (SHN^L_aug).
"""

from experiments.image_net.configs import base


def get_config():
  config = base.base_config(input_size=256, num_stacks=5, num_features=256,
                            num_steps=200_000)
  config.batch_size = 8
  config.learning_rate = 1e-3
  config.data.builder_config = 'large'
  config.eval_every = 10_000
  config.log_every = 200
  return config
