r"""The local web app: drop a photo or a clip, turn the body in 3D,
download it (`smplr_jax.app`; needs `pip install -e ".[app,detector]"`).

    python -m experiments.app --port=7860 [--host=127.0.0.1] \
        [--max_upload_mb=50] [--max_megapixels=40]

Serves on 127.0.0.1 (this machine only) unless --host says otherwise; then
it warns that anyone who can reach the address can use it. `smplr-jax app`
is the same.
"""

from __future__ import annotations

from absl import app, flags

from smplr_jax.app import ui
from smplr_jax.predict import settings

_HOST = flags.DEFINE_string('host', '127.0.0.1', 'Address to bind.')
_PORT = flags.DEFINE_integer('port', 7860, 'Port.')
_MAX_UPLOAD = flags.DEFINE_float('max_upload_mb', 50.0, 'Largest upload.')
_MAX_PIXELS = flags.DEFINE_float('max_megapixels', 40.0, 'Largest photo.')
_WEIGHTS = flags.DEFINE_string('weights', None, 'Pipeline folder (default: '
                               'the shipped weights).')


def main(argv):
  del argv
  ui.serve(_HOST.value, _PORT.value,
           settings.AppLimits(max_upload_mb=_MAX_UPLOAD.value,
                              max_image_pixels=int(_MAX_PIXELS.value * 1e6)),
           weights=_WEIGHTS.value)


if __name__ == '__main__':
  app.run(main)
