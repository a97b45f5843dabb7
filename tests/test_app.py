"""The web app's service (`smplr_jax.app.service`): upload checks, the
shared predictor, request folders. The checks run everywhere; the requests
need the [detector] extra (`.ci/run` runs them in its environment)."""

import concurrent.futures
import json
import pathlib
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from helpers import assert_same_record
from smplr_jax.app import service
from smplr_jax.predict import detector as detector_lib
from smplr_jax.predict import settings, write

UNAVAILABLE = detector_lib.availability()
WITHOUT_DETECTOR = ('runs only without the detector extra (mediapipe works '
                    'here)')
needs_detector = pytest.mark.skipif(
    UNAVAILABLE is not None,
    reason=f'needs the [detector] extra: {UNAVAILABLE}')


def _png_chunk(kind: bytes, data: bytes) -> bytes:
  return (struct.pack('>I', len(data)) + kind + data +
          struct.pack('>I', zlib.crc32(kind + data)))


def write_bomb(path: pathlib.Path, side: int = 30000) -> pathlib.Path:
  """A real decompression bomb: a valid 1-bit PNG of side^2 black pixels
  (900 megapixels) in about 100 KB."""
  row = b'\0' * (1 + (side + 7) // 8)
  packer = zlib.compressobj(9)
  data = b''.join(packer.compress(row) for _ in range(side)) + packer.flush()
  path.write_bytes(b'\x89PNG\r\n\x1a\n' +
                   _png_chunk(b'IHDR', struct.pack('>IIBBBBB', side, side, 1,
                                                   0, 0, 0, 0)) +
                   _png_chunk(b'IDAT', data) + _png_chunk(b'IEND', b''))
  return path


def test_uploads_are_classified_from_their_headers(tmp_path):
  limits = settings.AppLimits()
  assert service.inspect_upload(service.example_path('person.jpg'),
                                limits) == 'image'
  assert service.inspect_upload(service.example_path('walk.mp4'),
                                limits) == 'video'
  assert service.clip_header(service.example_path('walk.mp4')) == (384, 384,
                                                                   60)
  text = tmp_path / 'notes.jpg'  # the name lies
  text.write_text('not a picture\n' * 100)
  with pytest.raises(service.InputError, match='neither an image nor a '
                     'video'):
    service.inspect_upload(text, limits)
  empty = tmp_path / 'empty.png'
  empty.write_bytes(b'')
  with pytest.raises(service.InputError, match='empty'):
    service.inspect_upload(empty, limits)
  with pytest.raises(service.InputError, match='no file'):
    service.inspect_upload(tmp_path / 'missing.jpg', limits)


def test_a_decompression_bomb_is_refused_before_decoding(tmp_path):
  bomb = write_bomb(tmp_path / 'bomb.png')
  assert bomb.stat().st_size < 200_000
  start = time.perf_counter()
  with pytest.raises(service.InputError, match='too many pixels|30000 x '
                     '30000'):
    service.inspect_upload(bomb, settings.AppLimits())
  # Decoding 900 megapixels would take seconds and gigabytes.
  assert time.perf_counter() - start < 0.5
  # Below PIL's own bomb threshold, our cap refuses by the header too.
  small_bomb = write_bomb(tmp_path / 'small.png', side=8000)
  with pytest.raises(service.InputError, match='8000 x 8000 pixels; the '
                     'limit is 40 megapixels'):
    service.inspect_upload(small_bomb, settings.AppLimits())


def test_size_pixel_and_frame_caps(tmp_path):
  photo = service.example_path('person.jpg')
  with pytest.raises(service.InputError, match='the limit is 0.01 MB'):
    service.inspect_upload(photo, settings.AppLimits(max_upload_mb=0.01))
  with pytest.raises(service.InputError, match='512 x 512 pixels; the limit '
                     'is 0.1 megapixels'):
    service.inspect_upload(photo, settings.AppLimits(
        max_image_pixels=100_000))
  clip = service.example_path('walk.mp4')
  with pytest.raises(service.InputError, match='60 frames; the limit is 30'):
    service.inspect_upload(clip, settings.AppLimits(max_clip_frames=30))
  with pytest.raises(service.InputError, match='384 x 384 pixels'):
    service.inspect_upload(clip, settings.AppLimits(
        max_clip_pixels=100_000))
  # A header that under-states the frames: decoding stops at the cap.
  frames = service._capped(iter(np.zeros((5, 4, 4, 3), np.uint8)), 3)  # pylint: disable=protected-access
  with pytest.raises(service.InputError, match='more than 3 frames'):
    list(frames)


def test_box_parsing():
  """`read.parse_box`'s rules (tests/test_demo.py has them all), its
  mistakes shown in the page as `InputError`s."""
  assert service.parse_box('') is None and service.parse_box(None) is None
  assert service.parse_box('300, 400; 100, 50') == (100, 50, 300, 400)
  for bad in ('1, 2, 3', 'a, b, c, d', '1, 2, 3, nan'):
    with pytest.raises(service.InputError, match='four numbers'):
      service.parse_box(bad)


class _NoDetector:
  """A stand-in `Predictor` where people cannot be found (no [detector]
  extra); any other use fails the test."""

  def check_photo_path(self):
    raise ValueError('finding the person needs the [detector] extra; or '
                     'pass a person box.')


def test_small_photos_and_a_missing_extra_are_said_first(tmp_path):
  """The photo's smallest side comes from `AppLimits.min_image_side` (the
  detector's); a request without a box, where people cannot be found,
  names the extra. Neither reaches the predictor."""
  shared = service.SharedPredictor(load=lambda weights: _NoDetector())
  assert '[detector]' in shared.detector_error
  app = service.AppService(shared, root=tmp_path / 'app')
  assert app.limits.min_image_side == settings.PhotoSettings.min_image_side
  small = tmp_path / 'small.png'
  Image.fromarray(np.zeros((50, 70, 3), np.uint8)).save(small)
  with pytest.raises(service.InputError, match='70 x 50 pixels; at least '
                     '64 a side'):
    app.photo(small)
  roomy = service.AppService(shared, settings.AppLimits(min_image_side=32),
                             root=tmp_path / 'roomy')
  with pytest.raises(service.InputError, match=r'\[detector\].*box'):
    roomy.photo(small)
  with pytest.raises(service.InputError, match=r'\[detector\]'):
    roomy.clip(service.example_path('walk.mp4'))
  app.close()
  roomy.close()


def test_static_glb_holds_the_meshes_y_up(tmp_path):
  rng = np.random.default_rng(0)
  vertices = [rng.normal(size=(30, 3)) + [0, 0, 3],
              rng.normal(size=(20, 3)) + [1, 0, 4]]
  faces = [rng.integers(0, 30, (40, 3)), rng.integers(0, 20, (25, 3))]
  path = write.write_mesh_glb(tmp_path / 'x.glb', list(zip(vertices, faces)))
  document, binary = write.read_glb(path)
  assert [n['name'] for n in document['nodes']] == ['person_0', 'person_1']
  for mesh, want, want_faces in zip(document['meshes'], vertices, faces):
    attributes = mesh['primitives'][0]['attributes']
    position = document['accessors'][attributes['POSITION']]
    view = document['bufferViews'][position['bufferView']]
    got = np.frombuffer(binary, np.float32, position['count'] * 3,
                        view['byteOffset']).reshape(-1, 3)
    np.testing.assert_allclose(got, want * [1, -1, -1], atol=1e-6)
    normal = document['accessors'][attributes['NORMAL']]
    view = document['bufferViews'][normal['bufferView']]
    normals = np.frombuffer(binary, np.float32, normal['count'] * 3,
                            view['byteOffset']).reshape(-1, 3)
    used = np.unique(want_faces)
    np.testing.assert_allclose(np.linalg.norm(normals[used], axis=1), 1,
                               atol=1e-5)
    index = document['accessors'][mesh['primitives'][0]['indices']]
    view = document['bufferViews'][index['bufferView']]
    np.testing.assert_array_equal(np.frombuffer(
        binary, np.uint32, index['count'], view['byteOffset']).reshape(-1, 3),
        want_faces)
  with pytest.raises(ValueError, match='finite'):
    write.write_mesh_glb(tmp_path / 'y.glb', [(vertices[0] * np.nan,
                                               faces[0])])


@pytest.mark.skipif(UNAVAILABLE is None, reason=WITHOUT_DETECTOR)
def test_without_the_detector_a_photo_says_which_extra(tmp_path):
  app = service.AppService(service.SharedPredictor(), root=tmp_path)
  assert '[detector]' in app.predictor.detector_error
  with pytest.raises(service.InputError, match=r'\[detector\].*box'):
    app.photo(service.example_path('person.jpg'))
  app.close()


@pytest.fixture(scope='module')
def app_service(tmp_path_factory):
  app = service.AppService(service.SharedPredictor(),
                           root=tmp_path_factory.mktemp('app'),
                           keep_requests=3)
  yield app
  app.close()


@needs_detector
def test_photo_request_gives_every_file(app_service):
  result = app_service.photo(service.example_path('person.jpg'))
  assert result.status.startswith('**1 person** · path: detector')
  assert 'fit cost' in result.status
  names = sorted(p.name for p in result.downloads)
  assert names == ['body.glb', 'body.json', 'mesh.obj', 'overlay.png']
  folder = result.model.parent
  assert folder.parent == app_service.root  # its own folder
  document, _ = write.read_glb(result.model)
  assert len(document['meshes']) == 1 and not document.get('animations')
  obj = (folder / 'mesh.obj').read_text().splitlines()
  assert sum(line.startswith('v ') for line in obj) == 13718
  body = json.loads((folder / 'body.json').read_text())
  assert body == result.parameters and body['front_end'] == 'detector'
  assert body['used_dae'] is True and body['refined'] is True
  assert np.asarray(body['pose_axis_angle']).shape == (24, 3)
  # The person stands in front of the camera, near the photo's middle.
  assert 1.0 < body['root_cam_m'][2] < 15.0
  with Image.open(result.overlay) as overlay:
    assert overlay.size[1] == 512


@needs_detector
def test_everyone_in_a_photo_of_one(app_service):
  result = app_service.photo(service.example_path('person.jpg'),
                             everyone=True)
  assert result.status.startswith('**1 person**')
  assert len(result.parameters['betas']) == 10  # one record, not a list


@needs_detector
def test_box_request_uses_the_image_network(app_service):
  result = app_service.photo(service.example_path('person.jpg'),
                             '150, 60, 400, 460')
  assert 'path: box -> image network' in result.status
  assert result.parameters['front_end'] == 'crop'
  assert result.parameters['box'] == [150, 60, 400, 460]
  with pytest.raises(service.InputError, match='box'):
    app_service.photo(service.example_path('person.jpg'),
                      '600, 600, 700, 700')


@needs_detector
def test_user_mistakes_are_input_errors(app_service, tmp_path):
  blank = tmp_path / 'blank.png'
  Image.fromarray(np.full((300, 300, 3), 200, np.uint8)).save(blank)
  with pytest.raises(service.InputError, match='no person found'):
    app_service.photo(blank)
  tiny = tmp_path / 'tiny.png'
  Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tiny)
  with pytest.raises(service.InputError, match='30 x 20 pixels'):
    app_service.photo(tiny)
  with pytest.raises(service.InputError, match='this is a video'):
    app_service.photo(service.example_path('walk.mp4'))
  with pytest.raises(service.InputError, match='this is a photo'):
    app_service.clip(service.example_path('person.jpg'))


@needs_detector
def test_concurrent_requests_share_the_predictor_and_agree(app_service):
  """8 requests at once, two different photos in turn (the example and its
  mirror image: two different bodies), give each photo's lone answer, all
  of body.json (no request sees another's detector state or folder), and
  nothing deadlocks."""
  photo = service.example_path('person.jpg')
  mirrored_path = app_service.root / 'mirrored.png'
  with Image.open(photo) as image:
    image.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(mirrored_path)
  photos = [photo, mirrored_path]
  lone = [app_service.photo(p).parameters for p in photos]
  # Two bodies far apart: a swapped answer cannot pass for the right one.
  turn = np.abs(np.subtract(lone[0]['pose_axis_angle'],
                            lone[1]['pose_axis_angle'])).max()
  assert turn > 0.3, turn
  assert lone[0]['root_cam_m'][0] * lone[1]['root_cam_m'][0] < 0  # mirrored
  with concurrent.futures.ThreadPoolExecutor(8) as pool:
    futures = [pool.submit(app_service.photo, photos[i % 2])
               for i in range(8)]
    results = [f.result(timeout=300) for f in futures]
  for i, result in enumerate(results):
    assert_same_record(result.parameters, lone[i % 2])
  waits = app_service.predictor.waits()
  assert len(waits) >= 10 and waits.max() > 0.01  # they did queue
  # keep_requests=3: only the three newest request folders remain.
  folders = [p for p in app_service.root.iterdir() if p.is_dir()]
  assert len(folders) == 3


@needs_detector
def test_clip_request_reports_progress_and_animates(app_service):
  seen = []
  result = app_service.clip(service.example_path('walk.mp4'),
                            progress=lambda done, total: seen.append(
                                (done, total)))
  assert result.status.startswith('**1 track** over 60 frames')
  assert seen[-1] == (60, 60) and len(seen) >= 10
  names = {p.name for p in result.downloads}
  assert {'track_0.glb', 'track_0.bvh', 'overlay.mp4',
          'video.json'} <= names
  document, _ = write.read_glb(result.model)
  assert len(document['animations'][0]['channels']) == 25
  assert result.parameters['num_frames'] == 60


try:
  import gradio  # noqa: F401  pylint: disable=unused-import
  NO_GRADIO = None
except ImportError:
  NO_GRADIO = 'needs the [app] extra (gradio)'


@pytest.mark.skipif(NO_GRADIO is not None, reason=str(NO_GRADIO))
def test_the_page_has_a_gender_control_that_reaches_the_service(tmp_path):
  """auto / female / male / neutral on the page, sent with the request."""
  import types  # pylint: disable=g-import-not-at-top
  from smplr_jax.app import ui  # pylint: disable=g-import-not-at-top
  calls = []

  def photo(path, box_text, everyone, gender):
    calls.append((path, gender))
    return service.Result('ok', tmp_path / 'o.png', tmp_path / 'b.glb', {},
                          [], 0.0)

  fake = types.SimpleNamespace(
      predictor=types.SimpleNamespace(detector_error=None),
      kind=lambda path: 'image', photo=photo, live=service.LiveSettings())
  page = ui.build(fake)
  (radio,) = [b for b in page.blocks.values()
              if getattr(b, 'elem_id', None) == 'gender']
  assert [value for _, value in radio.choices] == ['auto', 'female', 'male',
                                                   'neutral']
  assert radio.value == 'auto'
  (recover,) = [fn for fn in page.fns.values()
                if getattr(fn, 'name', None) == 'recover']
  assert recover.inputs[-1] is radio
  status, *_ = recover.fn('p.png', None, '', False, 'offline', 1, 'female',
                          progress=lambda *args, **kwargs: None)
  assert status == 'ok' and calls == [('p.png', 'female')]


# The live webcam mode (`service.LiveSession`), on a rendered clip.


def test_live_settings_and_the_letterbox():
  live = service.LiveSettings()
  assert live.delay_frames == 0  # no look-ahead: latency is the work
  # The clip modes' causal look-ahead (4/30 s) is one frame a step at 10
  # frames/s: three frames of delay, 0.3 s.
  assert service.LiveSettings(causal_lag_s=4 / 30).delay_frames == 3
  assert service.LiveSettings(fps=30, causal_lag_s=4 / 30).delay_frames == 12
  with pytest.raises(ValueError, match='max_side'):
    service.LiveSettings(max_side=10)
  image = np.zeros((100, 50, 3), np.uint8)
  image[:, :, 0] = 255
  boxed = service.letterbox(image, (120, 60))
  assert boxed.shape == (60, 120, 3)
  # 50 x 100 scaled to 30 x 60, centred: grey beside it.
  np.testing.assert_array_equal(boxed[:, 45:75, 0], 255)
  np.testing.assert_array_equal(boxed[:, :45], 128)
  np.testing.assert_array_equal(boxed[:, 75:], 128)


def test_live_mode_without_the_detector_says_which_extra(tmp_path):
  shared = service.SharedPredictor(load=lambda weights: _NoDetector())
  app = service.AppService(shared, root=tmp_path / 'app')
  with pytest.raises(service.InputError, match=r'\[detector\]'):
    app.live_session()
  app.close()


@pytest.fixture(scope='module')
def clip():
  """24 rendered frames (256 px) of one person moving, with their masks."""
  from smplr_jax.evaluation import renders  # pylint: disable=g-import-not-at-top
  records = renders.render_motion_clip(7, 24, 256)
  return ([r['image'] for r in records],
          [r['mask'].astype(bool) for r in records])


@needs_detector
def test_live_session_draws_each_body_over_its_own_frame(app_service, clip):
  frames, masks = clip
  session = app_service.live_session()
  updates = [session.push(frame, now=number / 10)
             for number, frame in enumerate(frames)]
  session.close()
  drew = [u for u in updates if u.drew]
  assert len(drew) >= 0.9 * len(frames)
  on_person, covered = [], []
  for number, update in enumerate(updates):
    assert not update.dropped
    if not update.drew:
      continue
    # No look-ahead: each frame's body is drawn over that very frame.
    assert update.frame == number and update.latency_s > 0
    assert update.image.shape == frames[number].shape
    changed = np.abs(update.image.astype(int) - frames[number]).sum(-1) > 30
    # The mesh is drawn over the person: the changed pixels are mostly on
    # them, and cover much of them (less where a flipped reading turned
    # the body: without look-ahead it is not left out, docs/app.md).
    on_person.append((changed & masks[number]).sum() / changed.sum())
    covered.append((changed & masks[number]).sum() / masks[number].sum())
  assert min(on_person) > 0.5 and np.mean(on_person) > 0.7, on_person
  assert min(covered) > 0.3 and np.mean(covered) > 0.45, covered
  # Pushed at 10 frames/s (the `now` given), every frame drawn.
  stats = session.stats()
  assert stats['frames_per_s'] == pytest.approx(10.0, rel=0.01)
  assert stats['processed'] == stats['received'] == len(frames)
  assert stats['dropped'] == 0 and stats['drawn'] == len(drew)
  assert updates[-1].status.startswith('**live** · 10.0 frames/s · latency')
  assert 'look-ahead 0 frames' in updates[-1].status


@needs_detector
def test_live_session_with_look_ahead_draws_the_delayed_frame(app_service,
                                                              clip):
  """With the clip modes' look-ahead (delay 3 frames at 10 frames/s) the
  body of frame t comes with frame t + 3 and is drawn over frame t, from
  the ring of recent frames (which holds delay + 1 + extra frames)."""
  frames, masks = clip
  session = service.LiveSession(app_service.predictor,
                                service.LiveSettings(causal_lag_s=4 / 30))
  assert session.keep_frames == 3 + 1 + 4
  held, on_person = [], []
  for number, frame in enumerate(frames):
    update = session.push(frame, now=number / 10)
    held.append(session.stats()['frames_held'])
    if update.drew:
      assert update.frame == number - 3
      changed = np.abs(update.image.astype(int) -
                       frames[update.frame]).sum(-1) > 30
      on_person.append((changed & masks[update.frame]).sum() /
                       changed.sum())
  session.close()
  assert min(on_person) > 0.5 and np.mean(on_person) > 0.75, on_person
  assert session.drawn >= len(frames) - 3 - 2
  assert max(held) == session.keep_frames


@needs_detector
def test_live_frames_are_dropped_not_queued(app_service, clip):
  frames, _ = clip
  session = app_service.live_session()
  first = session.push(frames[0], now=0.0)
  assert first.drew
  # Another request holds the predictor: the frame is dropped at once and
  # the last picture shown again.
  with app_service.predictor.borrow():
    busy = session.push(frames[1], now=0.1)
  assert busy.dropped and not busy.drew and busy.frame == 0
  assert busy.image is first.image and 'server is busy' in busy.status
  assert '1 of 2 frames dropped' in busy.status
  # A frame older than one already read is dropped too.
  assert session.push(frames[2], now=-1.0).dropped
  assert session.stream.index == 1  # neither reached the stream
  # A camera at 100 frames/s, each frame pushed from its own thread: the
  # frames that arrive while one is read are dropped, so no body waits
  # behind another (its latency is its own read, never a queue's).
  timings = []

  def camera(number):
    start = time.monotonic()
    update = session.push(frames[number % len(frames)], now=start)
    timings.append((update, time.monotonic() - start))

  with concurrent.futures.ThreadPoolExecutor(8) as pool:
    for number in range(60):
      pool.submit(camera, number)
      time.sleep(0.01)
  session.close()
  dropped = [u for u, _ in timings if u.dropped]
  read = [(u, seconds) for u, seconds in timings if not u.dropped]
  assert dropped and read and len(dropped) > len(read)
  assert all(u.latency_s <= seconds for u, seconds in read if u.drew)
  stats = session.stats()
  assert stats['received'] == 63
  assert stats['processed'] + stats['dropped'] == 63


@needs_detector
def test_live_session_memory_is_bounded_and_restarts(app_service, clip):
  """Four passes of the clip (96 frames, forward and back): the frames
  held, the stream's buffers and the timings stay bounded; a new frame
  size or a pause starts a fresh stream."""
  frames, _ = clip
  session = app_service.live_session()
  loop = frames + frames[::-1]
  sizes = []
  for number in range(2 * len(loop)):
    session.push(loop[number % len(loop)], now=number / 10)
    stream = session.stream
    sizes.append((session.stats()['frames_held'],
                  max((len(v) for t in stream.tracks.values()
                       for v in t.buffers.values()), default=0)))
  held, buffered = np.asarray(sizes).T
  assert held.max() == session.keep_frames == 5
  # A track keeps the frames its windows need: ceil(4 sigma) = 6 at 10
  # frames/s.
  assert buffered.max() == 6
  assert session.stats()['drawn'] >= 0.9 * 96 and len(session._shown) <= 256  # pylint: disable=protected-access
  assert session.restarts == 0
  small = np.asarray(Image.fromarray(frames[0]).resize((200, 200)))
  session.push(small, now=9.7)  # a new size
  assert session.restarts == 1 and session.stream.size == (200, 200)
  session.push(small, now=20.0)  # after a pause
  assert session.restarts == 2 and session.stream.index == 1
  # Frames wider than max_side are shrunk.
  wide = np.asarray(Image.fromarray(frames[0]).resize((960, 720)))
  update = session.push(wide, now=20.05)
  assert session.stream.size == (480, 360) and update.image.shape == (
      360, 480, 3)
  with pytest.raises(service.InputError, match='RGB picture'):
    session.push(np.zeros((100, 100), np.uint8), now=21.0)
  session.close()
  assert session.stream is None


@pytest.mark.skipif(NO_GRADIO is not None, reason=str(NO_GRADIO))
def test_the_page_streams_the_webcam_to_a_live_session():
  """The live section: the webcam streamed every `stream_every_s` to
  `live_frame`, which makes one session per browser session (again when
  the gender or look-ahead changes) and shows its picture inline."""
  import base64  # pylint: disable=g-import-not-at-top
  import io  # pylint: disable=g-import-not-at-top
  import re  # pylint: disable=g-import-not-at-top
  import types  # pylint: disable=g-import-not-at-top
  from smplr_jax.app import ui  # pylint: disable=g-import-not-at-top
  live = service.LiveSettings()
  made, pushed = [], []

  class FakeSession:

    def __init__(self, gender, look_ahead):
      self.gender = None if gender == 'auto' else gender
      self.settings = service.LiveSettings(
          causal_lag_s=live.look_ahead_s if look_ahead else 0.0)
      self.closed = False
      made.append(self)

    def push(self, frame):
      pushed.append(frame.shape)
      image = frame.copy()
      image[:8] = (250, 10, 10)
      return service.LiveUpdate(image, '**live** · 9.0 frames/s', 7, 0.08,
                                drew=True, dropped=False)

    def close(self):
      self.closed = True

  fake = types.SimpleNamespace(
      predictor=types.SimpleNamespace(detector_error=None), live=live,
      live_session=lambda gender, look_ahead=False: FakeSession(gender,
                                                                look_ahead))
  page = ui.build(fake)
  (camera,) = [b for b in page.blocks.values()
               if getattr(b, 'elem_id', None) == 'live-camera']
  assert camera.streaming and camera.sources == ['webcam']
  assert not camera.webcam_options.mirror  # the person's own body
  (stream,) = [fn for fn in page.fns.values()
               if getattr(fn, 'name', None) == 'live_frame']
  assert stream.connection == 'stream' and stream.inputs[0] is camera
  assert stream.stream_every == live.stream_every_s == 0.05
  assert stream.time_limit == 600 and stream.concurrency_id == 'live'
  frame = np.full((48, 64, 3), 90, np.uint8)
  view, status, session = stream.fn(frame, None, 'auto', False)
  assert status == '**live** · 9.0 frames/s' and len(made) == 1
  assert 'data-frame="7"' in view and 'data-drew="1"' in view
  data = re.search(r'base64,([^"]+)"', view).group(1)
  shown = np.asarray(Image.open(io.BytesIO(base64.b64decode(data))))
  assert shown.shape == (48, 64, 3)
  assert np.abs(shown[:6].astype(int) - (250, 10, 10)).max() < 30
  assert np.abs(shown[12:].astype(int) - 90).max() < 10
  # The same choices: the same session; another: a fresh one.
  assert stream.fn(frame, session, 'auto', False)[2] is session
  again = stream.fn(frame, session, 'male', False)[2]
  assert again is not session and session.closed and again.gender == 'male'
  ahead = stream.fn(frame, again, 'male', True)[2]
  assert ahead is not again and ahead.settings.delay_frames == 3
  assert len(pushed) == 4
  # No frame (the camera stopped): nothing changes.
  skipped = stream.fn(None, ahead, 'male', True)
  assert skipped[2] is ahead and len(pushed) == 4
