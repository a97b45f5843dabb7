"""`smplr-jax`: the commands a user runs, installed with the package.

    smplr-jax demo --image=PHOTO --output=DIR [--box=x0,y0,x1,y1 | --everyone]
        [--focal=PIXELS] [--weights=FOLDER] [--no_dae] [--refine]
        [--flip_test] [--front_end=auto|crop|blazepose]
        [--gender=auto|female|male|neutral]
    smplr-jax demo --video=CLIP --output=DIR [--mode=offline|causal]
        [--max_people=N] [--focal=PIXELS] [--weights=FOLDER]
        [--gender=auto|female|male|neutral] [--fbx]
    smplr-jax batch --inputs=GLOB|FOLDER|A,B,...|@LIST --output=DIR
        [--workers=N] [--runner=DirectRunner] [--beam_options='--flag=v ...']
        [--focal=PIXELS] [--weights=FOLDER] [--gender=auto|female|male|neutral]
    smplr-jax app [--port=7860] [--host=127.0.0.1] [--max-upload-mb=50]
    smplr-jax convert-model SRC.pkl DST.npz

`demo` takes the flags of `python -m experiments.demo` with the same
spellings (--no_dae, --front_end, --flip_test, --max_people); the older
--no-dae, --front-end and --flip-test still work. A user's mistake (a
missing photo, a bad box, no person found, a missing extra) is one
`error: ...` line and exit status 1; a wrong command line is exit status 2.
The research launchers under `experiments/` (absl flags, configs) are
separate.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      prog='smplr-jax',
      description='3D human pose and shape (SMPL) from a photo, in JAX.')
  commands = parser.add_subparsers(dest='command', required=True,
                                   metavar='COMMAND')
  demo = commands.add_parser(
      'demo', help='a photo -> mesh.obj, overlay.png and body.json; a clip '
      '-> animations',
      description='A photo -> mesh.obj (camera frame, metres), overlay.png '
      'and body.json. Without --box the [detector] extra finds the person '
      '(--everyone: every person) and the body is fitted to its keypoints; '
      'with --box the image network reads the crop. A clip (--video) -> '
      'per-track .npz, .json, .bvh, .glb (and .fbx with --fbx), an overlay '
      '.mp4 and video.json.')
  source = demo.add_mutually_exclusive_group(required=True)
  source.add_argument('--image', help='photo (any format PIL reads)')
  source.add_argument('--video', help='clip (any format ffmpeg reads; needs '
                      'the [video] and [detector] extras)')
  demo.add_argument('--output', required=True, help='output folder')
  demo.add_argument('--box', help='photo: person box x0,y0,x1,y1 in pixels '
                    '(the image network on its crop; default: find the '
                    'person)')
  demo.add_argument('--everyone', action='store_true', help='photo: every '
                    'person found (default: the most confident one)')
  demo.add_argument('--focal', type=float, help='focal length in pixels '
                    '(default: a 55 degree field of view)')
  demo.add_argument('--weights', help='pipeline folder (default: the '
                    'shipped weights)')
  demo.add_argument('--no_dae', '--no-dae', action='store_true',
                    help='photo: skip the DAE')
  demo.add_argument('--front_end', '--front-end',
                    choices=('auto', 'crop', 'blazepose'), default='auto',
                    help='photo: auto: the photo path without --box, the '
                    'crop with it; crop: --box required; blazepose: the '
                    'photo path only')
  demo.add_argument('--refine', action='store_true', help='photo: fit the '
                    'body to the JL SMPLR saw')
  demo.add_argument('--flip_test', '--flip-test', action='store_true',
                    help='photo: average the crop and the mirrored crop')
  demo.add_argument('--mode', choices=('offline', 'causal'),
                    default='offline', help='clip: offline (sees the whole '
                    "clip) or causal (as live: frame t's body from frames "
                    'up to 0.4 s later)')
  demo.add_argument('--max_people', type=int, default=1,
                    help='clip: people per frame (default 1)')
  demo.add_argument('--fbx', action='store_true', help='clip: also '
                    'track_N.fbx, by Blender\'s exporter (needs the [fbx] '
                    'extra, Python 3.11)')
  demo.add_argument('--gender', choices=('auto', 'female', 'male',
                                         'neutral'), default='auto',
                    help="the body model: auto (estimated; 'unknown' uses "
                    'the neutral body) or the one you state')
  web = commands.add_parser(
      'app', help='the local web app (needs the [app] extra)',
      description='Serves the web app: drop a photo or a clip, turn the '
      'body in 3D, download it. Binds 127.0.0.1 (this machine only) unless '
      '--host says otherwise.')
  web.add_argument('--port', type=int, default=7860, help='port (default '
                   '7860)')
  web.add_argument('--host', default='127.0.0.1', help='address to bind '
                   '(default 127.0.0.1)')
  web.add_argument('--max-upload-mb', type=float, default=50.0,
                   help='largest upload (default 50)')
  web.add_argument('--weights', help='pipeline folder (default: the '
                   'shipped weights)')
  bulk = commands.add_parser(
      'batch', help='photos and clips in bulk, on Apache Beam (needs the '
      '[beam] extra); a rerun resumes',
      description='Every photo (everyone in it) and clip -> its own folder '
      'in --output (the files of `demo`, and item.json), then '
      'summary.tsv: one line per input (status, people, ms, error). A '
      'rerun skips the finished inputs, so a killed run resumes; an input '
      'that cannot be read is recorded as failed and the rest goes on '
      '(smplr_jax/predict/batch.py; docs/scale.md for Flink, Spark and '
      'Dataflow).')
  bulk.add_argument('--inputs', required=True, help='a glob (quoted: '
                    "'photos/**/*.jpg'), a folder, a comma list of these, "
                    'or @LIST (a file of paths, one a line)')
  bulk.add_argument('--output', required=True, help='output folder (a '
                    'gs:// or other Beam path on a cluster)')
  bulk.add_argument('--workers', type=int, default=1, help='local worker '
                    'processes (DirectRunner; default 1, in this process)')
  bulk.add_argument('--runner', default='DirectRunner', help='Beam runner '
                    '(default DirectRunner; FlinkRunner, SparkRunner, '
                    'DataflowRunner, ...)')
  bulk.add_argument('--beam_options', action='append', default=[],
                    help="more Beam flags in one string, e.g. "
                    "--beam_options='--project=P --region=R' (repeatable)")
  bulk.add_argument('--focal', type=float, help='focal length in pixels for '
                    'every input (default: a 55 degree field of view)')
  bulk.add_argument('--weights', help='pipeline folder (default: the '
                    'shipped weights)')
  bulk.add_argument('--gender', choices=('auto', 'female', 'male',
                                         'neutral'), default='auto',
                    help='the body model for everyone: auto (estimated) or '
                    'the one you state')
  convert = commands.add_parser(
      'convert-model', help='an official SMPL .pkl -> .npz (no chumpy)',
      description='Validates an official SMPL .pkl and writes it as an '
      'smplx-style .npz that load_body_model reads.')
  convert.add_argument('src', help='SMPL .pkl')
  convert.add_argument('dst', help='.npz to write')
  return parser


def main(argv: Sequence[str] | None = None) -> int:
  """Runs one command; returns the exit status."""
  args = _parser().parse_args(argv)
  if args.command == 'convert-model':
    # Imported here: `--help` and argument errors answer without loading JAX.
    from smplr_jax.tools import convert_model  # pylint: disable=g-import-not-at-top
    return convert_model.main(['convert-model', args.src, args.dst])
  if args.command == 'batch':
    return _batch(args)
  if args.command == 'app':
    from smplr_jax.app import ui  # pylint: disable=g-import-not-at-top
    from smplr_jax.predict import settings  # pylint: disable=g-import-not-at-top
    try:
      ui.import_gradio()
    except ImportError as error:
      print(f'error: {error}', file=sys.stderr)
      return 1
    ui.serve(args.host, args.port,
             settings.AppLimits(max_upload_mb=args.max_upload_mb),
             weights=args.weights)
    return 0
  from smplr_jax import cli  # pylint: disable=g-import-not-at-top
  from smplr_jax.predict import demo  # pylint: disable=g-import-not-at-top
  try:
    paths = demo.run_command(
        image=args.image, video=args.video, output=args.output,
        box=args.box, everyone=args.everyone, focal=args.focal,
        weights=args.weights, use_dae=not args.no_dae,
        front_end=args.front_end, refine=args.refine,
        flip_test=args.flip_test, mode=args.mode,
        max_people=args.max_people, gender=args.gender, fbx=args.fbx)
  except cli.USER_ERRORS as error:
    return _user_error(error)
  for path in paths.values():
    print(f'wrote {path}')
  return 0


def _user_error(error: Exception) -> int:
  """A user's mistake: one `error: ...` line, exit status 1 (re-raised,
  traceback included, with SMPLR_JAX_TRACEBACK=1)."""
  from smplr_jax import cli  # pylint: disable=g-import-not-at-top
  if os.environ.get(cli.TRACEBACK_ENV):
    raise error
  print(f'error: {error}', file=sys.stderr)
  return 1


def _batch(args: argparse.Namespace) -> int:
  """`smplr-jax batch`: 0 when the run finished (inputs that failed are
  in its summary.tsv), 1 with one line for a user's mistake."""
  import shlex  # pylint: disable=g-import-not-at-top
  from smplr_jax import cli  # pylint: disable=g-import-not-at-top
  try:
    from smplr_jax.predict import batch  # pylint: disable=g-import-not-at-top
  except ImportError as error:
    if not (error.name or '').startswith('apache_beam'):
      raise
    print('error: smplr-jax batch needs Apache Beam (the [beam] extra): '
          'pip install -e ".[beam]"', file=sys.stderr)
    return 1
  try:
    batch.run_batch(
        args.inputs, args.output, runner=args.runner, workers=args.workers,
        beam_options=[flag for text in args.beam_options
                      for flag in shlex.split(text)],
        focal=args.focal, gender=args.gender, weights=args.weights)
  except cli.USER_ERRORS as error:
    return _user_error(error)
  return 0


if __name__ == '__main__':
  sys.exit(main())
