"""The local web app (Gradio): drop a photo or a clip, turn the body in 3D,
download it. `smplr-jax app` and `python -m experiments.app` call `serve`.

The page: a photo or clip upload (or the webcam), an optional person box
(two clicks on the preview, or typed), the overlay, a 3D view of the .glb
(static for a photo, animated for a clip), the SMPL parameters, a status
line (the path used, the fit's cost, the time) and the files to download.
Below, the live mode: the webcam streamed, each frame's body drawn over it
(`service.LiveSession`, one per browser session). What the user got wrong
is said in the status line; the work itself is `service.AppService`'s.

Requires the [app] extra (gradio); finding people also needs [detector].
"""


import base64
import io
import logging
import os
import signal
import sys
import threading
from typing import Any

import numpy as np
from PIL import Image

from smplr_jax import resources
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

_LIVE_HELP = """Press the camera's button to start: each frame goes to this
machine, and the body recovered from it is drawn over that very frame as you
move (one person; face the camera first: BlazePose finds a person by the
face). The status line measures frames/s and latency: 9-13 frames/s and
0.12-0.16 s on 2 busy CPU cores. A camera of an unusual size compiles for a
few seconds at first. **No look-ahead** by default: a frame's body is final
as soon as the frame is read, smoothed over past frames only. *Look ahead*
waits for {delay} more frames, as clips do in causal mode ({lag_ms:.0f} ms at
each of three steps): a steadier body, with flipped readings left out, about
{delay_s:.1f} s later. Frames that arrive while the server is busy are
dropped, never queued. The stream stops after {minutes:g} minutes; press the
button again to go on."""

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


def live_html(update: service_lib.LiveUpdate | None,
              quality: int = 85) -> str:
  """The live view: the picture as an inline JPEG (no file per frame), its
  frame index and latency as data attributes (read by the page's tests).
  """
  if update is None or update.image is None:
    return ('<div id="live-frame" data-frame="">Start the camera: the '
            'body appears here.</div>')
  buffer = io.BytesIO()
  Image.fromarray(update.image).save(buffer, format='JPEG', quality=quality)
  data = base64.b64encode(buffer.getvalue()).decode('ascii')
  height, width = update.image.shape[:2]
  latency = '' if update.latency_s is None else f'{update.latency_s:.4f}'
  return (f'<div id="live-frame" data-frame="{update.frame}" '
          f'data-latency="{latency}" data-drew="{int(update.drew)}">'
          f'<img src="data:image/jpeg;base64,{data}" width="{width}" '
          f'height="{height}" style="width:100%;height:auto" '
          'alt="the body over the camera frame"></div>')


def _close_live(session: Any) -> None:
  """gr.State's delete callback: a closed tab's stream is closed."""
  if session is not None:
    session.close()


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

  def live_frame(frame: np.ndarray | None, session, gender: str,
                 look_ahead: bool):
    """One webcam frame -> the live view and status (the session is made
    on the first frame, and again when the gender or look-ahead choice
    changes)."""
    if frame is None:
      return gr.skip(), gr.skip(), session
    lag_s = (service.live.look_ahead_s if look_ahead else
             service.live.causal_lag_s)
    try:
      if session is None or (session.gender, session.settings.causal_lag_s
                             ) != (gender_lib.check_stated(gender), lag_s):
        _close_live(session)
        session = service.live_session(gender, look_ahead=bool(look_ahead))
      update = session.push(frame)
    except (service_lib.InputError, ValueError) as e:
      return gr.skip(), _error_line(e), session
    except Exception as e:  # pylint: disable=broad-except
      _log.exception('live frame failed')
      return (gr.skip(), f'⚠️ internal error ({type(e).__name__}); the '
              'server log has the details.', session)
    return live_html(update), update.status, session

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
    with gr.Accordion('Live: the webcam, the body drawn as you move',
                      open=False, elem_id='live'):
      live = service.live
      ahead = service_lib.LiveSettings(causal_lag_s=live.look_ahead_s,
                                       fps=live.fps).delay_frames
      gr.Markdown(_LIVE_HELP.format(
          delay=ahead, lag_ms=1000 * live.look_ahead_s,
          delay_s=ahead / live.fps, minutes=live.time_limit_s / 60))
      live_state = gr.State(None, delete_callback=_close_live)
      with gr.Row():
        # Not mirrored: the body recovered is the person's, not their
        # mirror image's. 640 x 480 asked for (frames are shrunk to
        # `max_side` anyway).
        camera = gr.Image(
            label='Webcam', sources=['webcam'], streaming=True,
            type='numpy', elem_id='live-camera',
            webcam_options=gr.WebcamOptions(mirror=False, constraints={
                'video': {'width': {'ideal': 640},
                          'height': {'ideal': 480}}}))
        with gr.Column():
          live_status = gr.Markdown(elem_id='live-status')
          live_view = gr.HTML(live_html(None), elem_id='live-view')
          look_ahead = gr.Checkbox(
              label=f'Look ahead (a steadier body, {ahead} frames later)',
              elem_id='live-look-ahead')
    camera.stream(live_frame, [camera, live_state, gender, look_ahead],
                  [live_view, live_status, live_state],
                  stream_every=live.stream_every_s,
                  time_limit=int(live.time_limit_s),
                  show_progress='hidden', concurrency_limit=2,
                  concurrency_id='live')
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
  # Compiled programs persist across restarts.
  resources.use_compilation_cache(min_compile_time_secs=1.0)
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
      print('compiling the live mode...', flush=True)
      service.warm_up_live()
  page = build(service)
  # Two at a time: one computes while the other's upload is checked and
  # decoded (the predictor itself takes one request at a time). Live
  # streams have their own two slots ('live'): a stream holds its slot as
  # long as it runs.
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
