r"""The paper's Table 2 (Human3.6M) and Table 3 (SURREAL) protocols.

    python -m experiments.evaluate_protocols --dataset=human36m \
        --data_dir=DATA [--data_config=protocol1] [--weights=FOLDER] \
        [--split=test] [--max_examples=N] [--json_out=FILE]
    python -m experiments.evaluate_protocols --dataset=surreal \
        --data_dir=DATA [--data_config=stride10] ...

Builds nothing: build the dataset first (`python -m
smplr_jax.data.datasets.build human36m --data_dir=DATA --manual_dir=...`; the
licensed release is needed). Runs `predictor.load_pipeline(--weights)` (the
shipped weights by default) on root-centred crops of the split and prints
P1 / P2 on the 17-joint Human3.6M skeleton per action and subject (Table 2),
or the surface error and joint errors (Table 3), in mm. The protocol's
details: `smplr_jax/evaluation/protocols.py`.
"""

from __future__ import annotations

import json
import pathlib

from absl import flags

from smplr_jax import cli
from smplr_jax.evaluation import protocols
from smplr_jax.predict import predictor as predictor_lib

_DATASET = flags.DEFINE_enum('dataset', None, list(protocols.PROTOCOLS),
                             'Which protocol (and builder).')
_DATA_DIR = flags.DEFINE_string('data_dir', '~/tensorflow_datasets',
                                'TFDS data directory holding the build.')
_DATA_CONFIG = flags.DEFINE_string(
    'data_config', None, "Builder config (default: the builder's).")
_SPLIT = flags.DEFINE_string('split', 'test', 'Split to evaluate.')
_WEIGHTS = flags.DEFINE_string('weights', None,
                               'Pipeline folder (default: shipped weights).')
_NO_DAE = flags.DEFINE_bool('no_dae', False, 'Feed SMPLR without the DAE.')
_BATCH = flags.DEFINE_integer('batch_size', 16, 'Crops per call.')
_MAX = flags.DEFINE_integer('max_examples', None, 'Only the first N.')
_JSON_OUT = flags.DEFINE_string('json_out', None, 'Write the results here.')
flags.mark_flag_as_required('dataset')


def open_split(dataset: str, data_dir: str, config: str | None, split: str):
  """The random-access split of a built dataset, or a one-line error."""
  # Importing the builders imports TFDS: only when a split is opened.
  from smplr_jax.data import datasets  # pylint: disable=g-import-not-at-top

  name = dataset if config is None else f'{dataset}/{config}'
  builder_cls = datasets.BUILDERS[dataset]
  builder = builder_cls(data_dir=str(pathlib.Path(data_dir).expanduser()),
                        config=config)
  if not pathlib.Path(builder.data_dir).is_dir():
    raise ValueError(
        f'{name} (version {builder.version}) is not built in {data_dir}; '
        f'build it with python -m smplr_jax.data.datasets.build {dataset} '
        f'--data_dir={data_dir} --manual_dir=<the release>'
        + (f' --config={config}' if config else '') + '.')
  sources = builder.as_data_source()
  if split not in sources:
    raise ValueError(f'{name} has no split {split!r}; it has '
                     f'{", ".join(sorted(sources))}.')
  return sources[split]


def main(argv):
  del argv
  source = open_split(_DATASET.value, _DATA_DIR.value, _DATA_CONFIG.value,
                      _SPLIT.value)
  predictor = predictor_lib.load_pipeline(_WEIGHTS.value,
                                      use_dae=not _NO_DAE.value)
  evaluate, format_results = protocols.PROTOCOLS[_DATASET.value]
  results = evaluate(predictor, source, batch_size=_BATCH.value,
                     max_examples=_MAX.value)
  print(f'{_DATASET.value} {_SPLIT.value}, mm:')
  print(format_results(results))
  if _JSON_OUT.value:
    pathlib.Path(_JSON_OUT.value).write_text(json.dumps(results, indent=2))


if __name__ == '__main__':
  cli.run(main)
