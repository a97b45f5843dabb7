"""The local web app (Gradio): drop a photo or a clip, turn the body in 3D,
download it. `smplr-jax app` and `python -m experiments.app` call `serve`.

The page: a photo or clip upload (or the webcam), an optional person box
(two clicks on the preview, or typed), the overlay, a 3D view of the .glb
(static for a photo, animated for a clip), the SMPL parameters, a status
line (the path used, the fit's cost, the time) and the files to download.
What the user got wrong is said in the status line; the work itself is
`service.AppService`'s.

Requires the [app] extra (gradio); finding people also needs [detector].
"""


import logging
import os
import signal
import sys
import threading
from typing import Any

from smplr_jax.app import service as service_lib
from smplr_jax.predict import gender as gender_lib
from smplr_jax.predict import settings

LOCAL_HOSTS = ('127.0.0.1', 'localhost', '::1')
INSTALL_HINT = 'pip install "smplr_jax[app]"'

_HELP = """# smplr_jax: a 3D body from a photo or a clip

Drop a **photo** or a short **clip** (or take a webcam picture), then press
*Recover the body*. A photo goes through BlazePose, an adapter, SMPLR and a
fit to every keypoint; with a **person box** (click two corners on the
preview, or type them) the image network reads the box's crop instead. A
clip is tracked and fitted over time. Everything runs on this machine:
nothing is uploaded anywhere else. Camera frame: x right, y down, z
forward, metres (the .glb is y up).
"""

_log = logging.getLogger(__name__)


def import_gradio():
  """gradio, with its usage analytics off (the app works offline).

  Raises:
    ImportError: gradio is missing, with the extra that installs it.
  """
  os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
  try:
    import gradio  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ImportError(f'the web app needs gradio: {INSTALL_HINT}') from e
  return gradio


def _error_line(error: Exception) -> str:
  return f'⚠️ {error}'


def build(service: service_lib.AppService):
  """The page (`gradio.Blocks`) over a service."""
  gr = import_gradio()
  examples = [[str(service_lib.example_path(name))]
              for name in service_lib.EXAMPLES]

  def on_upload(path: str | None):
    """A new file: its preview (photos only, after the header checks) and
    an empty box."""
    if not path:
      return gr.update(value=None), '', '', None
    try:
      kind = service.kind(path)
    except service_lib.InputError as e:
      return gr.update(value=None), '', _error_line(e), None
    if kind == 'image':
      return (gr.update(value=path), '', 'Photo ready: press *Recover the '
              'body* (optionally click two corners of a person box first).',
              None)
    return (gr.update(value=None), '', 'Clip ready: press *Recover the '
            'body*.', None)

  def on_click(corner: list | None, evt: gr.SelectData):
    """Two clicks on the preview: the box's corners."""
    x, y = (float(v) for v in evt.index[:2])
    if not corner:
      return [x, y], f'{x:.0f}, {y:.0f}, …'
    box = (min(corner[0], x), min(corner[1], y), max(corner[0], x),
           max(corner[1], y))
    return None, ', '.join(f'{v:.0f}' for v in box)

  def recover(upload, webcam, box_text, everyone, mode, people, gender,
              progress=gr.Progress()):
    path = upload or webcam
    empty = (gr.update(value=None, visible=True),
             gr.update(value=None, visible=False), None, None, None)
    if not path:
      return ('⚠️ no input: drop a photo or a clip, or take a webcam '
              'picture.', *empty)
    try:
      if service.kind(path) == 'video':
        if box_text and box_text.strip():
          raise service_lib.InputError('a person box is for photos; clear '
                                       'it for a clip.')
        progress(0, desc='reading frames')
        result = service.clip(path, mode=mode, max_people=int(people),
                              progress=lambda done, total: progress(
                                  (done, total), desc='frames',
                                  unit='frames'), gender=gender)
        return (result.status, gr.update(value=None, visible=False),
                gr.update(value=str(result.overlay), visible=True),
                str(result.model), result.parameters,
                [str(p) for p in result.downloads])
      result = service.photo(path, box_text, everyone, gender)
      return (result.status, gr.update(value=str(result.overlay),
                                       visible=True),
              gr.update(value=None, visible=False), str(result.model),
              result.parameters, [str(p) for p in result.downloads])
    except service_lib.InputError as e:
      return _error_line(e), *empty
    except Exception as e:  # pylint: disable=broad-except
      # A bug, not the user's doing: one line in the page, the traceback in
      # the server's log.
      _log.exception('request failed')
      return (f'⚠️ internal error ({type(e).__name__}); the server log has '
              'the details.', *empty)

  with gr.Blocks(title='smplr_jax', delete_cache=(600, 3600)) as page:
    gr.Markdown(_HELP)
    if service.predictor.detector_error:
      gr.Markdown(f'⚠️ {service.predictor.detector_error}', elem_id='extra')
    corner = gr.State(None)
    with gr.Row():
      with gr.Column(scale=1):
        upload = gr.File(label='Photo or clip', type='filepath',
                         file_types=['image', 'video'], elem_id='upload')
        gr.Examples(examples, inputs=[upload], label='Examples (ours, '
                    'rendered)')
        with gr.Accordion('…or a webcam picture', open=False):
          webcam = gr.Image(label='Webcam', sources=['webcam'],
                            type='filepath', elem_id='webcam', height=240)
        preview = gr.Image(label='Preview: click two corners for a person '
                           'box (optional)', interactive=False,
                           elem_id='preview', height=320)
        box = gr.Textbox(label='Person box x0, y0, x1, y1 (pixels; empty: '
                         'find the person)', elem_id='box')
        with gr.Row():
          everyone = gr.Checkbox(label='Everyone in the photo',
                                 elem_id='everyone')
          mode = gr.Radio(['offline', 'causal'], value='offline',
                          label='Clip fit', elem_id='mode')
          people = gr.Slider(1, 4, value=1, step=1, label='People in a clip '
                             '(the 3D view shows the first)',
                             elem_id='people')
        gender = gr.Radio(list(gender_lib.CHOICES), value='auto',
                          label="Body model (auto: estimated; 'unknown' "
                          'uses the neutral body)', elem_id='gender')
        run = gr.Button('Recover the body', variant='primary',
                        elem_id='run')
      with gr.Column(scale=1):
        status = gr.Markdown(elem_id='status')
        overlay = gr.Image(label='Overlay', interactive=False,
                           elem_id='overlay')
        overlay_clip = gr.Video(label='Overlay', visible=False,
                                elem_id='overlay-clip')
        model = gr.Model3D(label='3D body (drag to turn, scroll to zoom)',
                           clear_color=(0.95, 0.95, 0.95, 1.0),
                           elem_id='model', height=420)
        parameters = gr.JSON(label='SMPL parameters', elem_id='parameters',
                             max_height=280)
        downloads = gr.File(label='Downloads', file_count='multiple',
                            interactive=False, elem_id='downloads')
    upload.change(on_upload, [upload], [preview, box, status, corner])
    preview.select(on_click, [corner], [corner, box])
    run.click(recover, [upload, webcam, box, everyone, mode, people, gender],
              [status, overlay, overlay_clip, model, parameters, downloads])
  return page


def host_warning(host: str, port: int) -> str | None:
  """What to say when the app is reachable from other machines."""
  if host in LOCAL_HOSTS:
    return None
  return (f'warning: serving on {host}:{port}, not only this machine: '
          'anyone who can reach it can use the app and upload files.')


def serve(host: str = '127.0.0.1', port: int = 7860,
          limits: settings.AppLimits = settings.AppLimits(),
          weights: str | None = None, warm_up: bool = True,
          block: bool = True) -> tuple[Any, service_lib.AppService]:
  """Loads the pipeline, warms it up and serves the page.

  Binds `host` (loopback unless told otherwise; any other address is said
  on stderr). With `block`, serves until interrupted and cleans up;
  otherwise returns (the gradio Blocks, the service) with the server
  running (`page.close()` and `service.close()` stop it).
  """
  import_gradio()
  warning = host_warning(host, port)
  if warning:
    print(warning, file=sys.stderr, flush=True)
  # Compiled programs persist across restarts (the fits take seconds to
  # compile on a laptop CPU).
  import jax  # pylint: disable=g-import-not-at-top
  if not jax.config.jax_compilation_cache_dir:
    jax.config.update('jax_compilation_cache_dir', os.environ.get(
        'SMPLR_JAX_CACHE', os.path.join(
            os.environ.get('XDG_CACHE_HOME', os.path.expanduser('~/.cache')),
            'smplr_jax', 'xla')))
    jax.config.update('jax_persistent_cache_min_compile_time_secs', 1.0)
  predictor = service_lib.SharedPredictor(weights)
  service = service_lib.AppService(predictor, limits)
  # Gradio's own copies of uploads and outputs go under the service's root
  # (removed on close), unless the user chose a place.
  os.environ.setdefault('GRADIO_TEMP_DIR', str(service.root / 'gradio'))
  if warm_up:  # compile the photo, crop and clip paths before serving
    print('compiling the photo, box and clip paths (a minute the first '
          'time; cached after)...', flush=True)
    example = service_lib.example_path('person.jpg')
    service.photo(example, '150, 60, 400, 460')
    if predictor.detector_error is None:
      service.photo(example)
      service.clip(service_lib.example_path('walk.mp4'))
  page = build(service)
  # Two at a time: one computes while the other's upload is checked and
  # decoded (the predictor itself takes one request at a time).
  page.queue(default_concurrency_limit=2, max_size=256)
  try:
    page.launch(server_name=host, server_port=port, ssr_mode=False,
                max_file_size=f'{limits.max_upload_mb:g}mb',
                allowed_paths=[str(service_lib.example_path(
                    'person.jpg').parent)],
                footer_links=[], run_history=False, prevent_thread_lock=True,
                show_error=False, quiet=True)
  except BaseException:
    service.close()
    raise
  if not block:
    return page, service
  print(f'serving on http://{host}:{port}/ (request files under '
        f'{service.root}, removed on exit); Ctrl+C stops.', flush=True)
  # SIGTERM (a service manager, a test) cleans up as Ctrl+C does.
  signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
  try:
    threading.Event().wait()
  except (KeyboardInterrupt, SystemExit):
    pass
  finally:
    page.close()
    service.close()
  return page, service
