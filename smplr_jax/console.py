"""`smplr-jax`: the commands a user runs, installed with the package.

    smplr-jax demo --image=PHOTO --output=DIR [--box=x0,y0,x1,y1]
        [--focal=PIXELS] [--weights=FOLDER] [--no-dae] [--refine]
        [--flip-test] [--front-end=auto|crop|blazepose]
    smplr-jax app [--port=7860] [--host=127.0.0.1] [--max-upload-mb=50]
    smplr-jax convert-model SRC.pkl DST.npz

A user's mistake (a missing photo, a bad box, no person found, a missing
extra) is one `error: ...` line and exit status 1; a wrong command line is
exit status 2. The research launchers under `experiments/` (absl flags,
configs) are separate.
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
      'demo', help='a photo -> mesh.obj, overlay.png and body.json',
      description='A photo -> mesh.obj (camera frame, metres), overlay.png '
      'and body.json. Without --box the [detector] extra finds the person '
      'and the body is fitted to its keypoints; with --box the image '
      'network reads the crop.')
  demo.add_argument('--image', required=True, help='photo (any format PIL '
                    'reads)')
  demo.add_argument('--box', help='person box x0,y0,x1,y1 in pixels (the '
                    'image network on its crop; default: find the person)')
  demo.add_argument('--output', required=True, help='output folder')
  demo.add_argument('--focal', type=float, help='focal length in pixels '
                    '(default: a 55 degree field of view)')
  demo.add_argument('--weights', help='pipeline folder (default: the '
                    'shipped weights)')
  demo.add_argument('--no-dae', action='store_true', help='skip the DAE')
  demo.add_argument('--front-end', choices=('auto', 'crop', 'blazepose'),
                    default='auto', help='auto: the photo path without --box, '
                    'the crop with it; crop: --box required; blazepose: the '
                    'photo path only')
  demo.add_argument('--refine', action='store_true', help='fit the body to '
                    'the JL SMPLR saw')
  demo.add_argument('--flip-test', action='store_true', help='average the '
                    'crop and the mirrored crop')
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
  if args.command == 'app':
    from smplr_jax.app import service, ui  # pylint: disable=g-import-not-at-top
    try:
      ui.import_gradio()
    except ImportError as error:
      print(f'error: {error}', file=sys.stderr)
      return 1
    ui.serve(args.host, args.port,
             service.Limits(max_upload_mb=args.max_upload_mb),
             weights=args.weights)
    return 0
  from smplr_jax import cli  # pylint: disable=g-import-not-at-top
  from smplr_jax.predict import demo  # pylint: disable=g-import-not-at-top
  try:
    paths = demo.run(args.image, args.box, args.output, args.focal,
                     args.weights, not args.no_dae, args.front_end,
                     args.refine, args.flip_test)
  except cli.USER_ERRORS as error:
    if os.environ.get(cli.TRACEBACK_ENV):
      raise
    print(f'error: {error}', file=sys.stderr)
    return 1
  for path in paths.values():
    print(f'wrote {path}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
