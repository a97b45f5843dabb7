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
      kind=lambda path: 'image', photo=photo)
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
