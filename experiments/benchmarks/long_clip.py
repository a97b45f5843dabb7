r"""Long clips: peak memory and frames per second of `predict_video` and
`demo --video` on 1,000 and 10,000 frames.

    python -m experiments.benchmarks.long_clip [--lengths=1000,10000] \
        [--size=320] [--workdir=/tmp/long_clip]

Needs the detector and video extras. One rendered motion clip
(`renders.render_motion_clip`, 300 frames, one clothed person) is looped
into MPEG-4 files of each length at 30 frames/s; each file then goes
through, in a fresh process so that its peak resident memory is its own:

  * `predict_video` (offline mode: detection streamed, tracking, the
    temporal fit in chunks), and
  * `python -m experiments.demo --video=... --output=...` (the same, then
    the track files and the overlay video, drawn from meshes computed in
    blocks).

It prints, per length, the seconds, frames per second and peak resident
memory (MiB) of each: bounded memory shows as the same peak at 1,000 and
10,000 frames.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import tempfile
import time

from absl import app, flags

_LENGTHS = flags.DEFINE_list('lengths', ['1000', '10000'], 'Clip lengths.')
_SIZE = flags.DEFINE_integer('size', 320, 'Frame side (px).')
_WORKDIR = flags.DEFINE_string('workdir', '/tmp/long_clip', 'Scratch folder.')

LOOP_FRAMES = 300
FPS = 30

_PREDICT = """
import sys
from smplr_jax.predict import predictor
result = predictor.load_pipeline(front_end='blazepose').predict_video(
    sys.argv[1])
(track,) = [t for t in result['tracks'] if len(t['frames']) > 100]
print(len(result['tracks']), len(track['frames']))
"""


def write_looped_clip(path: pathlib.Path, num_frames: int,
                      size: int) -> pathlib.Path:
  """A rendered motion clip looped to `num_frames` frames (MPEG-4)."""
  import av  # pylint: disable=g-import-not-at-top

  from smplr_jax.evaluation import renders  # pylint: disable=g-import-not-at-top
  records = renders.render_motion_clip(2024, LOOP_FRAMES, size)
  # Forward then backward: the loop has no jump.
  loop = [r['image'] for r in records] + [r['image']
                                          for r in records[-2:0:-1]]
  with av.open(str(path), 'w') as container:
    stream = container.add_stream('mpeg4', rate=FPS)
    stream.width = stream.height = size
    stream.pix_fmt = 'yuv420p'
    stream.bit_rate = 2_000_000
    for index in range(num_frames):
      for packet in stream.encode(av.VideoFrame.from_ndarray(
          loop[index % len(loop)], format='rgb24')):
        container.mux(packet)
    for packet in stream.encode():
      container.mux(packet)
  return path


def run_measured(command: list[str]) -> tuple[float, float, str]:
  """(seconds, peak resident MiB, stdout) of a command in a fresh process
  (its own peak: `wait4`'s resource usage)."""
  # Output to files: a progress bar would fill a pipe nobody reads.
  with tempfile.TemporaryFile('w+') as out_file, tempfile.TemporaryFile(
      'w+') as err_file:
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=out_file, stderr=err_file,
                               text=True)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    out_file.seek(0)
    err_file.seek(0)
    out, err = out_file.read(), err_file.read()
  if os.waitstatus_to_exitcode(status) != 0:
    raise RuntimeError(f'{command} failed:\n{err[-2000:]}')
  return seconds, usage.ru_maxrss / 1024, out


def main(argv):
  del argv
  workdir = pathlib.Path(_WORKDIR.value)
  workdir.mkdir(parents=True, exist_ok=True)
  rows = []
  for length in (int(v) for v in _LENGTHS.value):
    clip = workdir / f'clip_{length}.mp4'
    if not clip.exists():
      write_looped_clip(clip, length, _SIZE.value)
    seconds, peak, out = run_measured([sys.executable, '-c', _PREDICT,
                                       str(clip)])
    rows.append((length, 'predict_video', seconds, peak, out.strip()))
    print(rows[-1], flush=True)
    seconds, peak, _ = run_measured([
        sys.executable, '-m', 'experiments.demo', f'--video={clip}',
        f'--output={workdir / f"demo_{length}"}'])
    rows.append((length, 'demo --video', seconds, peak, ''))
    print(rows[-1], flush=True)
  print(f'\n{_SIZE.value} x {_SIZE.value} px, {FPS} frames/s, one person; '
        'seconds include start-up and compilation')
  print('| frames | command | seconds | frames/s | peak memory (MiB) |')
  print('|---:|---|---:|---:|---:|')
  for length, name, seconds, peak, _ in rows:
    print(f'| {length} | {name} | {seconds:.0f} | {length / seconds:.1f} | '
          f'{peak:.0f} |')


if __name__ == '__main__':
  app.run(main)
