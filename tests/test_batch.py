"""`smplr-jax batch` (`batch.run_batch`): photos through Beam's
RunInference into one folder each, a summary, failures recorded one line
each, reruns that skip what is finished, and a run killed with SIGKILL that
resumes to the same files as a run never interrupted.

Needs the [beam] extra (Apache Beam) and, for the runs, the [detector]
extra. The clip test is `slow` (a minute of compiling on 2 cores).
"""

import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

pytest.importorskip('apache_beam', reason='needs the [beam] extra: pip '
                    'install -e ".[beam]"')

from smplr_jax.app import service  # pylint: disable=g-import-not-at-top,wrong-import-position
from smplr_jax.predict import batch  # pylint: disable=g-import-not-at-top,wrong-import-position
from smplr_jax.predict import detector as detector_lib  # pylint: disable=g-import-not-at-top,wrong-import-position
from smplr_jax.predict import predictor as predictor_lib  # pylint: disable=g-import-not-at-top,wrong-import-position
from smplr_jax.predict import read, write  # pylint: disable=g-import-not-at-top,wrong-import-position

UNAVAILABLE = detector_lib.availability()
needs_detector = pytest.mark.skipif(
    UNAVAILABLE is not None,
    reason=f'needs the [detector] extra: {UNAVAILABLE}')
PHOTO_FILES = {'body.json', 'item.json', 'mesh.obj', 'overlay.png'}
REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def inputs(tmp_path_factory):
  """Four inputs: the example photo, its mirror image under the same file
  name in a sub-folder, a file that is not a photo, a photo of nobody.
  Returns (the --inputs spec, the paths in the order the spec lists)."""
  folder = tmp_path_factory.mktemp('inputs')
  photo = np.asarray(Image.open(service.example_path('person.jpg')))
  Image.fromarray(photo).save(folder / 'person.jpg')
  (folder / 'more').mkdir()
  Image.fromarray(photo[:, ::-1]).save(folder / 'more' / 'person.jpg')
  (folder / 'broken.jpg').write_bytes(b'not a photo at all' * 20)
  Image.fromarray(np.full((256, 256, 3), 128, np.uint8)).save(
      folder / 'nobody.png')
  order = ['broken.jpg', 'nobody.png', 'person.jpg', 'more/person.jpg']
  return f'{folder},{folder}/more/*.jpg', [str(folder / n) for n in order]


@pytest.fixture(scope='module')
def predictor():
  if UNAVAILABLE is not None:
    pytest.skip(f'needs the [detector] extra: {UNAVAILABLE}')
  return predictor_lib.load_pipeline(front_end='blazepose')


@pytest.fixture(scope='module')
def finished(inputs, predictor, tmp_path_factory):
  """One uninterrupted in-process run over `inputs` (the workers load the
  module's predictor instead of loading it again)."""
  output = tmp_path_factory.mktemp('run') / 'out'
  with pytest.MonkeyPatch.context() as patch:
    patch.setattr(predictor_lib, 'load_pipeline',
                  lambda *args, **kwargs: predictor)
    result = batch.run_batch(inputs[0], str(output), progress=False)
  return output, result


def _assert_same_json(actual, expected, atol: float) -> None:
  """Equal JSON values, their numbers to `atol`."""
  if isinstance(expected, dict):
    assert actual.keys() == expected.keys()
    for key in expected:
      _assert_same_json(actual[key], expected[key], atol)
  elif isinstance(expected, list):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
      _assert_same_json(a, e, atol)
  elif isinstance(expected, float):
    np.testing.assert_allclose(actual, expected, atol=atol, rtol=1e-6)
  else:
    assert actual == expected


def test_names_inputs_and_options(tmp_path):
  first, second = '/data/a/person.jpg', '/data/b/person.jpg'
  assert batch.item_name(first) == batch.item_name(first)
  assert batch.item_name(first) != batch.item_name(second)
  assert batch.item_name(first).startswith('person.jpg-')
  assert batch.item_name('gs://b/x/my photo.JPG').startswith('my_photo.JPG-')
  assert [batch.item_kind(p) for p in ('a.MP4', 'b.mov', 'c.jpg', 'd')] == [
      'clip', 'clip', 'photo', 'photo']

  for name in ('b.jpg', 'a.png', '.hidden'):
    (tmp_path / name).write_bytes(b'x')
  (tmp_path / 'sub').mkdir()
  (tmp_path / 'sub' / 'c.jpg').write_bytes(b'x')
  listing = tmp_path / 'list.txt'
  listing.write_text(f'# photos\n{tmp_path}/b.jpg\n\nsub/missing.jpg\n')
  here = os.getcwd()
  os.chdir(tmp_path)  # relative paths are made absolute
  try:
    assert batch.expand_inputs(f'{tmp_path},**/*.jpg') == [
        f'{tmp_path}/a.png', f'{tmp_path}/b.jpg', f'{tmp_path}/list.txt',
        f'{tmp_path}/sub/c.jpg']
    assert batch.expand_inputs(f'@{listing}') == [
        f'{tmp_path}/b.jpg', f'{tmp_path}/sub/missing.jpg']
  finally:
    os.chdir(here)
  with pytest.raises(ValueError, match="no file matches '.*nothing"):
    batch.expand_inputs(f'{tmp_path}/nothing/*.jpg')
  with pytest.raises(ValueError, match='cannot read the input list'):
    batch.expand_inputs(f'@{tmp_path}/absent.txt')

  options = batch.pipeline_options('DirectRunner', 2,
                                   '--job_name=x --max_num_workers=3')
  direct = options.get_all_options()
  assert direct['direct_num_workers'] == 2
  assert direct['direct_running_mode'] == 'multi_processing'
  assert direct['job_name'] == 'x' and direct['max_num_workers'] == 3
  with pytest.raises(ValueError, match='--num_workers'):
    batch.pipeline_options('DataflowRunner', 2)
  with pytest.raises(ValueError, match='at least 1'):
    batch.pipeline_options('DirectRunner', 0)


def _staged(tmp_path, name, files):
  folder = tmp_path / name
  folder.mkdir()
  for file, text in files.items():
    (folder / file).write_text(text)
  return folder


def test_a_second_commit_is_dropped(tmp_path):
  """A retried bundle commits an item again: the first commit stays. The
  object-store protocol (copy, item.json last) replaces the leftovers of
  an attempt killed before its item.json."""
  target = tmp_path / 'out' / 'item-1'
  target.parent.mkdir()
  first = _staged(tmp_path, 'a', {'item.json': '1', 'body.json': 'a'})
  second = _staged(tmp_path, 'b', {'item.json': '2', 'body.json': 'b'})
  assert batch._commit_local(str(first), str(target))
  assert not batch._commit_local(str(second), str(target))
  assert not second.exists() and (target / 'body.json').read_text() == 'a'

  copied = tmp_path / 'store' / 'item-1'
  copied.mkdir(parents=True)
  (copied / 'overlay.png').write_text('left by a killed attempt')
  third = _staged(tmp_path, 'c', {'item.json': '3', 'mesh.obj': 'c'})
  assert batch._commit_copy(str(third), str(copied))
  assert sorted(p.name for p in copied.iterdir()) == ['item.json',
                                                      'mesh.obj']
  assert not batch._commit_copy(str(third), str(copied))


@needs_detector
def test_every_input_gets_a_folder_and_a_summary_line(finished, inputs,
                                                      predictor):
  output, result = finished
  records = {r['input']: r for r in result.records}
  assert [r['input'] for r in result.records] == inputs[1]
  broken, nobody, person, mirrored = (records[p] for p in inputs[1])
  assert broken['status'] == 'failed' and broken['people'] == 0
  assert broken['error'] == f'{inputs[1][0]} is not an image PIL can read.'
  assert nobody['status'] == 'failed'
  assert nobody['error'] == 'no person found in the photo.'
  for record in (person, mirrored):
    assert (record['status'], record['people']) == ('ok', 1)
    assert record['error'] is None and record['ms'] > 0
    assert set(record['files']) | {'item.json'} == PHOTO_FILES
  assert (result.count('ok'), result.count('failed'),
          result.count('skipped')) == (2, 2, 0)

  # Equal file names in two folders: two folders out.
  assert person['name'] != mirrored['name']
  assert person['name'].startswith('person.jpg-')
  folders = sorted(p.name for p in output.iterdir())
  assert folders == sorted([r['name'] for r in result.records] +
                           ['.lock', 'summary.tsv'])  # no staging left
  for record in result.records:
    files = {p.name for p in (output / record['name']).iterdir()}
    assert files == (PHOTO_FILES if record['status'] == 'ok' else
                     {'item.json'})
    saved = json.loads((output / record['name'] / 'item.json').read_text())
    assert saved == {k: v for k, v in record.items() if k != 'skipped'}

  # The files hold the predictor's people of that photo.
  people = predictor.predict_people(read.load_photo(inputs[1][2]))
  _assert_same_json(
      json.loads((output / person['name'] / 'body.json').read_text()),
      json.loads(json.dumps(write.body_record(people[0]))), atol=1e-6)

  lines = (output / 'summary.tsv').read_text().splitlines()
  assert lines[0].split('\t') == list(batch.SUMMARY_COLUMNS)
  rows = [dict(zip(batch.SUMMARY_COLUMNS, line.split('\t')))
          for line in lines[1:]]
  assert [(r['input'], r['status'], r['people'], r['skipped'])
          for r in rows] == [(p, records[p]['status'],
                              str(records[p]['people']), 'no')
                             for p in inputs[1]]
  assert rows[0]['error'] == broken['error']
  assert [int(r['ms']) for r in rows] == [records[p]['ms']
                                          for p in inputs[1]]


@needs_detector
def test_a_rerun_skips_what_is_finished(finished, inputs, predictor,
                                        tmp_path):
  output, _ = finished
  rerun = tmp_path / 'rerun'
  shutil.copytree(output, rerun)
  stamps = {p: p.stat().st_mtime_ns for p in rerun.glob('*/*')}
  late = tmp_path / 'late.jpg'
  late.write_bytes(b'also not a photo')
  with pytest.MonkeyPatch.context() as patch:
    patch.setattr(predictor_lib, 'load_pipeline',
                  lambda *args, **kwargs: predictor)
    result = batch.run_batch(f'{inputs[0]},{late}', str(rerun),
                             progress=False)
  assert (result.count('skipped'), result.count('failed'),
          result.count('ok')) == (4, 1, 0)
  assert result.records[-1]['error'] == f'{late} is not an image PIL can read.'
  assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
  rows = (rerun / 'summary.tsv').read_text().splitlines()[1:]
  assert [r.split('\t')[5] for r in rows] == ['yes'] * 4 + ['no']

  # Another run on the same folder at the same time is refused.
  import fcntl  # pylint: disable=g-import-not-at-top
  with open(rerun / '.lock', 'w', encoding='utf-8') as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    with pytest.raises(ValueError, match='another smplr-jax batch'):
      batch.run_batch(inputs[0], str(rerun), progress=False)


def _command(spec, output, *flags):
  return [sys.executable, '-m', 'smplr_jax.console', 'batch',
          f'--inputs={spec}', f'--output={output}', *flags]


def _environment():
  """This process's environment (its XLA_FLAGS: the same numbers) and its
  compilation cache, which the children read."""
  import jax  # pylint: disable=g-import-not-at-top
  env = dict(os.environ, PYTHONPATH=str(REPO))
  if jax.config.jax_compilation_cache_dir:
    env['SMPLR_JAX_CACHE'] = jax.config.jax_compilation_cache_dir
  return env


def _committed(output: pathlib.Path) -> set[str]:
  return {p.parent.name for p in output.glob('*/item.json')}


def _same_item(resumed: pathlib.Path, uninterrupted: pathlib.Path) -> None:
  assert sorted(p.name for p in resumed.iterdir()) == sorted(
      p.name for p in uninterrupted.iterdir())
  records = [json.loads((f / 'item.json').read_text())
             for f in (resumed, uninterrupted)]
  for record in records:
    del record['ms']
  assert records[0] == records[1]
  if (resumed / 'body.json').exists():
    _assert_same_json(*[json.loads((f / 'body.json').read_text())
                        for f in (resumed, uninterrupted)], atol=1e-5)
    meshes = [np.loadtxt([line[2:] for line in
                          (f / 'mesh.obj').read_text().splitlines()
                          if line.startswith('v ')])
              for f in (resumed, uninterrupted)]
    np.testing.assert_allclose(meshes[0], meshes[1], atol=2e-5)


@needs_detector
def test_a_killed_run_resumes_to_the_same_files(finished, inputs, tmp_path):
  """SIGKILL after the first item is committed, then a rerun on two worker
  processes: every folder is whole at any moment, the items finished
  before the kill are left as they were, and the outputs equal the
  uninterrupted run's item by item."""
  uninterrupted, _ = finished
  output = tmp_path / 'out'
  log = tmp_path / 'killed.log'
  with open(log, 'w', encoding='utf-8') as stderr:
    run = subprocess.Popen(_command(inputs[0], output), env=_environment(),
                           stdout=subprocess.DEVNULL, stderr=stderr,
                           start_new_session=True)
    try:
      deadline = time.monotonic() + 300
      while not _committed(output) and run.poll() is None:
        assert time.monotonic() < deadline, log.read_text()[-2000:]
        time.sleep(0.02)
    finally:  # the run and anything it started
      os.killpg(run.pid, signal.SIGKILL)
      run.wait()
  before = _committed(output)
  assert 1 <= len(before) < 4, log.read_text()[-2000:]
  # Nothing half-written in sight: a folder is there whole or not at all.
  visible = {p.name for p in output.iterdir()
             if p.is_dir() and not p.name.startswith('.')}
  assert visible == before
  stamps = {p: p.stat().st_mtime_ns for n in before
            for p in (output / n).iterdir()}

  resumed = subprocess.run(_command(inputs[0], output, '--workers=2'),
                           env=_environment(), capture_output=True,
                           text=True, timeout=600, check=False)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert (f'4 inputs: {len(before)} finished by an earlier run, '
          f'{4 - len(before)} to run (DirectRunner, 2 workers)'
          in resumed.stderr), resumed.stderr[-3000:]
  assert (f'{len(before)} skipped (finished earlier)' in resumed.stderr)
  # Finished items were not redone, and every item is there once.
  assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
  names = sorted(p.name for p in output.iterdir())
  assert names == sorted(p.name for p in uninterrupted.iterdir())
  for name in _committed(uninterrupted):
    _same_item(output / name, uninterrupted / name)
  rows = (output / 'summary.tsv').read_text().splitlines()[1:]
  assert sum(r.split('\t')[5] == 'yes' for r in rows) == len(before)


@pytest.mark.slow  # ~1 min: the clip path's temporal fit compiles
@needs_detector
def test_a_clip_gets_its_tracks_and_overlay(predictor, tmp_path):
  """A clip (six frames of the example person) -> track_0.* and
  overlay.mp4 with video.json; a file named .mp4 that is no clip is
  recorded as failed."""
  import av  # pylint: disable=g-import-not-at-top
  photo = np.asarray(Image.open(service.example_path('person.jpg')))
  clip = tmp_path / 'still.mp4'
  with av.open(str(clip), 'w') as container:
    stream = container.add_stream('mpeg4', rate=30)
    stream.width, stream.height = photo.shape[1], photo.shape[0]
    stream.pix_fmt, stream.bit_rate = 'yuv420p', 4_000_000
    for shift in range(6):
      frame = av.VideoFrame.from_ndarray(np.roll(photo, 2 * shift, axis=1),
                                         format='rgb24')
      for packet in stream.encode(frame):
        container.mux(packet)
    for packet in stream.encode():
      container.mux(packet)
  junk = tmp_path / 'junk.mp4'
  junk.write_bytes(b'not a clip' * 50)
  output = tmp_path / 'out'
  with pytest.MonkeyPatch.context() as patch:
    patch.setattr(predictor_lib, 'load_pipeline',
                  lambda *args, **kwargs: predictor)
    result = batch.run_batch([str(clip), str(junk)], str(output),
                             progress=False)
  good, bad = result.records
  assert (good['kind'], good['status'], good['people']) == ('clip', 'ok', 1)
  assert set(good['files']) == {'overlay.mp4', 'video.json', 'track_0.npz',
                                'track_0.json', 'track_0.bvh', 'track_0.glb'}
  video = json.loads((output / good['name'] / 'video.json').read_text())
  assert video['num_frames'] == 6 and len(video['tracks']) == 1
  track = np.load(output / good['name'] / 'track_0.npz')
  assert track['frames'].tolist() == list(range(6))
  assert (bad['status'], bad['kind']) == ('failed', 'clip')
  assert 'not a video' in bad['error']
