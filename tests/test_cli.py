"""One-line errors for a user's mistakes (smplr_jax.cli), as a new user
meets them: launchers run in a subprocess, the rest called directly."""

import os
import pathlib
import subprocess
import sys

import ml_collections
import pytest
from absl import flags
from ml_collections import config_flags

from smplr_jax import cli
from smplr_jax.data import datasets as datasets_lib
from smplr_jax.predict import inference
from smplr_jax.tools import convert_model

REPO = pathlib.Path(__file__).resolve().parents[1]


def _run(*args, cwd=REPO):
  env = dict(os.environ)
  env.pop(cli.TRACEBACK_ENV, None)
  return subprocess.run([sys.executable, *args], cwd=cwd, env=env,
                        capture_output=True, text=True, timeout=120,
                        check=False)


def _one_error_line(result, status):
  assert result.returncode == status, result.stderr
  lines = result.stderr.splitlines()
  assert len(lines) == 1 and lines[0].startswith('error: '), result.stderr
  return lines[0]


def test_launcher_with_a_wrong_config_path(tmp_path):
  workdir = tmp_path / 'run'
  result = _run('-m', 'experiments.image_net.main',
                '--config=experiments/image_net/configs/cpux.py',
                f'--workdir={workdir}')
  line = _one_error_line(result, 2)  # was a 44-line traceback
  assert line.startswith('error: --config=experiments/image_net/configs/'
                         'cpux.py: no such config file; closest: ')
  assert 'experiments/image_net/configs/cpu.py' in line
  assert not workdir.exists()


def _launcher_flags(argv):
  """A launcher's two flags, on their own FlagValues."""
  flag_values = flags.FlagValues()
  config_flags.DEFINE_config_file('config', None, 'Experiment config.',
                                  flag_values=flag_values, lock_config=True,
                                  sys_argv=argv)
  flags.DEFINE_string('workdir', None, 'Run folder.',
                      flag_values=flag_values)
  flags.mark_flags_as_required(['config', 'workdir'], flag_values)
  return flag_values


@pytest.mark.parametrize('args, message', [
    # Each was a 40-55 line traceback.
    (['--config=experiments/smplr/configs/psi.py', '--config.num_step=5'],
     ("error: --config.num_step: no field 'num_step'; closest: num_steps "
      '(in experiments/smplr/configs/psi.py).')),
    (['--config=experiments/smplr/configs/psi.py',
      '--config.smplr.rotaton=6d'],
     ("error: --config.smplr.rotaton: no field 'smplr.rotaton'; closest: "
      'smplr.rotation (in experiments/smplr/configs/psi.py).')),
    (['--config=experiments/smplr/configs/nope.py'],
     ('error: --config=experiments/smplr/configs/nope.py: no such config '
      'file; configs: experiments/smplr/configs/base.py, ')),
    (['--config=experiments/smplr/configs/psi.py'],
     ('error: flag --workdir=None: Flag --workdir must have a value other '
      'than None. (--helpshort lists the flags)')),
])
def test_flag_mistakes_are_one_line(args, message, capsys, monkeypatch):
  monkeypatch.chdir(REPO)
  monkeypatch.delenv(cli.TRACEBACK_ENV, raising=False)
  argv = ['launcher', *args]
  with pytest.raises(SystemExit) as exit_:
    cli.parse_flags(argv, _launcher_flags(argv))
  assert exit_.value.code == 2
  lines = capsys.readouterr().err.splitlines()
  assert len(lines) == 1 and lines[0].startswith(message), lines


def test_error_in_main_is_one_line_and_leaves_no_empty_workdir(
    tmp_path, capsys, monkeypatch):
  monkeypatch.delenv(cli.TRACEBACK_ENV, raising=False)
  workdir = tmp_path / 'run'
  flag_values = flags.FlagValues()
  flags.DEFINE_string('workdir', None, '', flag_values=flag_values)
  flag_values(['launcher', f'--workdir={workdir}'])

  def main(argv):
    del argv
    (workdir / 'checkpoints').mkdir(parents=True)
    raise ValueError('the input is wrong')

  with pytest.raises(SystemExit) as exit_:
    cli.guard(main, flag_values)(['launcher'])
  assert exit_.value.code == 1
  assert capsys.readouterr().err == 'error: the input is wrong\n'
  assert not workdir.exists()  # made by the run, holding no file
  # With SMPLR_JAX_TRACEBACK the error is raised as it is.
  monkeypatch.setenv(cli.TRACEBACK_ENV, '1')
  with pytest.raises(ValueError, match='the input is wrong'):
    cli.guard(main, flag_values)(['launcher'])


def test_remove_if_no_files(tmp_path):
  (tmp_path / 'a' / 'b').mkdir(parents=True)
  (tmp_path / 'c' / 'd').mkdir(parents=True)
  (tmp_path / 'c' / 'd' / 'metrics.jsonl').write_text('{}')
  assert cli.remove_if_no_files(tmp_path / 'a')
  assert not (tmp_path / 'a').exists()
  assert not cli.remove_if_no_files(tmp_path / 'c')
  assert (tmp_path / 'c' / 'd' / 'metrics.jsonl').exists()


def test_missing_field_names_the_closest():
  config = ml_collections.ConfigDict(
      {'num_steps': 10, 'smplr': {'rotation': '6d', 'num_betas': 10}})
  assert cli.missing_field(config, 'smplr.rotation') is None
  assert cli.missing_field(config, 'smplr.num_beta') == (
      "no field 'smplr.num_beta'; closest: smplr.num_betas")
  assert cli.missing_field(config, 'zzz') == (
      "no field 'zzz'; valid: num_steps, smplr")
  assert cli.missing_field(config, 'num_steps.x') == (
      'num_steps is a value (10), not a group of fields')


def test_dataset_build_errors(tmp_path):
  data = tmp_path / 'tfds'
  with pytest.raises(datasets_lib.MissingFilesError,
                     match=r'^surreal: the manual directory \S*nowhere does '
                     r'not exist\. Download SURREAL'):
    datasets_lib.build_dataset('surreal', data, None, tmp_path / 'nowhere')
  # TFDS listed "10 closely matching" configs and showed none.
  with pytest.raises(ValueError, match=r"smplr_synthetic has no config "
                     r"'tiyn'; did you mean tiny\? valid: tiny, small, large"):
    datasets_lib.build_dataset('smplr_synthetic', data, 'tiyn')
  # A manual folder lacking files: listed, and TFDS's folders are removed.
  (tmp_path / 'empty').mkdir()
  with pytest.raises(datasets_lib.MissingFilesError, match='missing 3'):
    datasets_lib.build_dataset('up3d', data, None, tmp_path / 'empty')
  assert not data.exists()


def test_build_cli_is_one_line(tmp_path):
  result = _run('-m', 'smplr_jax.data.datasets.build', 'smplr_synthetic',
                f'--data_dir={tmp_path}', '--config=foo')
  line = _one_error_line(result, 1)  # was a 32-line traceback
  assert line.startswith("error: smplr_synthetic has no config 'foo'; valid: "
                         'tiny, small, large')
  assert not list(tmp_path.iterdir())


def test_convert_model_help(capsys):
  assert convert_model.main(['convert_model', '--help']) == 0
  assert 'SRC.pkl DST.npz' in capsys.readouterr().out


def test_missing_run_folders_are_named(tmp_path):
  for load in (inference.load_smplr, inference.load_pipeline):
    with pytest.raises(ValueError, match=r'nowhere does not exist'):
      load(tmp_path / 'nowhere')
  with pytest.raises(ValueError, match=r'nowhere does not exist'):
    inference.load_smplr(tmp_path / 'nowhere', step=3)


def test_console_convert_model_is_the_tool(tmp_path, capsys):
  from smplr_jax import console  # pylint: disable=g-import-not-at-top
  assert console.main(['convert-model', str(tmp_path / 'none.pkl'),
                       str(tmp_path / 'out.npz')]) == 1
  assert capsys.readouterr().err.startswith('error: ')
  assert not (tmp_path / 'out.npz').exists()
  with pytest.raises(SystemExit) as exit_info:
    console.main(['--help'])
  assert exit_info.value.code == 0
  assert 'convert-model' in capsys.readouterr().out


def test_console_app_without_gradio_names_the_extra(capsys):
  import importlib.util  # pylint: disable=g-import-not-at-top
  if importlib.util.find_spec('gradio') is not None:
    pytest.skip('gradio is installed here (tests/test_app_browser.py '
                'starts the app)')
  from smplr_jax import console  # pylint: disable=g-import-not-at-top
  assert console.main(['app', '--port', '0']) == 1
  err = capsys.readouterr().err
  assert err.startswith('error: the web app needs gradio') and '[app]' in err
