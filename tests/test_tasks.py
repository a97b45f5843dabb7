"""The task table (smplr_jax.training.tasks): launchers pick a task by config name."""

import ml_collections
import pytest

from experiments.dae.configs import structured as dae_config
from experiments.end_to_end.configs import cpu as e2e_config
from experiments.smplr.configs import psi as psi_config
from smplr_jax.training import tasks
from smplr_jax.training.tasks import adapter as adapter_task
from smplr_jax.training.tasks import dae as dae_task
from smplr_jax.training.tasks import end_to_end
from smplr_jax.training.tasks import image_net as image_net_task
from smplr_jax.training.tasks import smplr as smplr_task


def test_every_config_family_names_a_known_task():
  assert tasks.TASKS == {'smplr': smplr_task.SMPLRTask,
                         'dae': dae_task.DAETask,
                         'image_net': image_net_task.ImageNetTask,
                         'end_to_end': end_to_end.EndToEndTask,
                         'adapter': adapter_task.AdapterTask}
  assert e2e_config.get_config().task == 'end_to_end'
  assert isinstance(tasks.make_task(psi_config.get_config()),
                    smplr_task.SMPLRTask)
  assert isinstance(tasks.make_task(dae_config.get_config()),
                    dae_task.DAETask)


def test_unknown_task_is_reported():
  with pytest.raises(ValueError, match="unknown task 'gan'; known: "
                     'adapter, dae, end_to_end, image_net, smplr'):
    tasks.make_task(ml_collections.ConfigDict({'task': 'gan'}))
