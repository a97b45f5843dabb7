"""One-line errors for a user's mistakes (smplr_jax.cli), as a new user
meets them: launchers run in a subprocess, the rest called directly; and
the `smplr-jax demo` command's flags (`smplr_jax.console`)."""

import json
import os
import pathlib
import subprocess
import sys

import ml_collections
import pytest
from absl import flags
from ml_collections import config_flags

from smplr_jax import cli, console, resources
from smplr_jax.data import datasets as datasets_lib
from smplr_jax.predict import demo, detector
from smplr_jax.predict import predictor as predictor_lib
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
  for load in (predictor_lib.load_smplr, predictor_lib.load_pipeline):
    with pytest.raises(ValueError, match=r'nowhere does not exist'):
      load(tmp_path / 'nowhere')
  with pytest.raises(ValueError, match=r'nowhere does not exist'):
    predictor_lib.load_smplr(tmp_path / 'nowhere', step=3)


def test_console_convert_model_is_the_tool(tmp_path, capsys):
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
    pytest.skip('runs only without the app extra: gradio is installed '
                'here (tests/test_app_browser.py starts the app)')
  assert console.main(['app', '--port', '0']) == 1
  err = capsys.readouterr().err
  assert err.startswith('error: the web app needs gradio') and '[app]' in err


@pytest.fixture
def demo_calls(monkeypatch):
  """`demo.run` and `demo.run_video` recorded instead of run: (name, args,
  keywords) per call."""
  calls = []

  def recorder(name):
    def record(*args, **kwargs):
      calls.append((name, args, kwargs))
      return {}
    return record

  monkeypatch.setattr(demo, 'run', recorder('run'))
  monkeypatch.setattr(demo, 'run_video', recorder('run_video'))
  return calls


@pytest.mark.parametrize('spelling', [
    ['--no_dae', '--front_end=crop', '--flip_test'],  # experiments.demo's
    ['--no-dae', '--front-end=crop', '--flip-test'],  # the older ones
    ['--no_dae', '--front-end', 'crop', '--flip-test'],
])
def test_demo_flags_take_both_spellings(spelling, demo_calls):
  assert console.main(['demo', '--image=p.jpg', '--box=1,2,3,4',
                       '--output=out', '--focal=500', '--weights=w',
                       '--refine', *spelling]) == 0
  assert demo_calls == [('run', ('p.jpg', '1,2,3,4', 'out'), {
      'everyone': False, 'focal': 500.0, 'weights': 'w', 'use_dae': False,
      'front_end': 'crop', 'refine': True, 'flip_test': True,
      'gender': 'auto'})]


@pytest.mark.parametrize('gender', ['female', 'male', 'neutral', 'auto'])
def test_demo_gender_reaches_photos_and_clips(gender, demo_calls):
  assert console.main(['demo', '--image=p.jpg', '--output=out',
                       f'--gender={gender}']) == 0
  assert demo_calls[-1][0] == 'run'
  assert demo_calls[-1][2]['gender'] == gender
  assert console.main(['demo', '--video=c.mp4', '--output=out',
                       f'--gender={gender}']) == 0
  assert demo_calls[-1][0] == 'run_video'
  assert demo_calls[-1][2]['gender'] == gender


def test_demo_refuses_an_unknown_gender(demo_calls, capsys):
  with pytest.raises(SystemExit) as exit_info:
    console.main(['demo', '--image=p.jpg', '--output=out',
                  '--gender=robot'])
  assert exit_info.value.code == 2
  assert "invalid choice: 'robot'" in capsys.readouterr().err
  assert not demo_calls


def test_demo_everyone_and_video_reach_the_demo(demo_calls, capsys):
  assert console.main(['demo', '--image=p.jpg', '--everyone',
                       '--output=out']) == 0
  assert demo_calls[-1][0] == 'run' and demo_calls[-1][2]['everyone']
  assert demo_calls[-1][1] == ('p.jpg', None, 'out')
  assert console.main(['demo', '--video=c.mp4', '--output=out',
                       '--mode=causal', '--max_people=2']) == 0
  assert demo_calls[-1] == ('run_video', ('c.mp4', 'out'), {
      'focal': None, 'weights': None, 'mode': 'causal', 'max_people': 2,
      'gender': 'auto', 'fbx': False})
  assert console.main(['demo', '--video=c.mp4', '--output=out',
                       '--fbx']) == 0
  assert demo_calls[-1][2]['fbx']
  # A photo's flags with a clip: one line, status 1, nothing run.
  for extra in ('--box=1,2,3,4', '--everyone'):
    capsys.readouterr()
    assert console.main(['demo', '--video=c.mp4', '--output=out',
                         extra]) == 1
    assert capsys.readouterr().err == (
        'error: --video takes no --image, --box or --everyone (they are '
        'for photos).\n')
  assert len(demo_calls) == 3
  # A wrong command line is status 2: a photo and a clip, neither, a bad
  # mode.
  for argv in (['--image=p.jpg', '--video=c.mp4'], [],
               ['--video=c.mp4', '--mode=live']):
    with pytest.raises(SystemExit) as exit_info:
      console.main(['demo', '--output=out', *argv])
    assert exit_info.value.code == 2
  assert len(demo_calls) == 3


def test_demo_help_lists_one_spelling_each(capsys):
  with pytest.raises(SystemExit):
    console.main(['demo', '--help'])
  text = capsys.readouterr().out
  for flag in ('--image', '--video', '--box', '--everyone', '--output',
               '--focal', '--weights', '--no_dae', '--front_end', '--refine',
               '--flip_test', '--mode', '--max_people', '--fbx'):
    assert flag in text, flag


def test_demo_video_mistakes_are_one_line(tmp_path, capsys, monkeypatch):
  monkeypatch.delenv(cli.TRACEBACK_ENV, raising=False)
  assert console.main(['demo', f'--video={tmp_path / "none.mp4"}',
                       f'--output={tmp_path / "out"}']) == 1
  error = capsys.readouterr().err
  assert error.startswith('error: ') and 'does not exist' in error
  assert error.count('\n') == 1 and not (tmp_path / 'out').exists()
  assert console.main(['demo', f'--video={tmp_path / "none.mp4"}',
                       f'--output={tmp_path / "out"}',
                       '--max_people=0']) == 1
  assert 'max_people must be at least 1' in capsys.readouterr().err


def test_demo_everyone_on_the_example(tmp_path, capsys, monkeypatch):
  """`smplr-jax demo --everyone` on the shipped photo: every person found
  (one here, so one record), or without the [detector] extra one line
  naming it."""
  monkeypatch.delenv(cli.TRACEBACK_ENV, raising=False)
  photo = resources.data_dir() / 'examples' / 'person.jpg'
  output = tmp_path / 'out'
  status = console.main(['demo', f'--image={photo}', '--everyone',
                         f'--output={output}'])
  captured = capsys.readouterr()
  if detector.availability() is not None:
    assert status == 1 and '[detector]' in captured.err
    assert not output.exists()
    return
  assert status == 0, captured.err
  body = json.loads((output / 'body.json').read_text())
  assert body['front_end'] == 'detector' and len(body['betas']) == 10
  obj = (output / 'mesh.obj').read_text().splitlines()
  assert [line for line in obj if line.startswith('o ')] == ['o person_0']
