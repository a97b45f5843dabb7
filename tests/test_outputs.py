"""What users take away on the photo path is what the predictor returns:
the files that the demo (`demo.run`, what `smplr-jax demo --image=PHOTO`
writes) and the web app (`service.AppService.photo`) write for the shipped
example photo hold `Predictor.predict_image`'s body of that photo
(`helpers.assert_files_hold_the_body`: mesh.obj, body.json, body.glb).

Needs the [detector] extra (`.ci/run` runs this file in that environment).
The crop path's files: tests/test_demo.py; a clip's: tests/test_video.py.
"""

import pytest

from helpers import app_files, assert_files_hold_the_body
from smplr_jax.app import service
from smplr_jax.predict import demo
from smplr_jax.predict import detector as detector_lib
from smplr_jax.predict import predictor as predictor_lib
from smplr_jax.predict import read

UNAVAILABLE = detector_lib.availability()
pytestmark = pytest.mark.skipif(
    UNAVAILABLE is not None,
    reason=f'needs the [detector] extra: {UNAVAILABLE}')
PHOTO = service.example_path('person.jpg')
BOX = '150, 60, 400, 460'  # the person in the 512 x 512 example


@pytest.fixture(scope='module')
def predictor():
  return predictor_lib.load_pipeline()


def test_photo_path_files_hold_the_body(predictor, monkeypatch, tmp_path):
  photo = read.load_photo(PHOTO)
  body = predictor.predict_image(photo)
  assert body['front_end'] == 'detector'
  # The demo on the loaded pipeline (its own load_pipeline() would load the
  # same shipped weights again).
  monkeypatch.setattr(demo.predictor_lib, 'load_pipeline',
                      lambda *args, **kwargs: predictor)
  assert_files_hold_the_body(demo.run(str(PHOTO), None, str(tmp_path)), body)
  app = service.AppService(service.SharedPredictor(load=lambda _: predictor),
                           root=tmp_path / 'app')
  answer = app_files(app.photo(PHOTO))
  assert_files_hold_the_body(answer, body)
  # The same photo's other body (the crop path's) is told apart.
  other = predictor.predict_image(photo, box=read.parse_box(BOX))
  with pytest.raises(AssertionError):
    assert_files_hold_the_body(answer, dict(other, front_end='detector'))
  app.close()
