"""The data package maps to the top-level third_party/ folder (the body model
and weights ship in the wheel); everything else is in setup.cfg."""

import setuptools

setuptools.setup(
    packages=setuptools.find_packages(include=['smplr_jax', 'smplr_jax.*']) +
    ['smplr_jax.third_party'],
    package_dir={'smplr_jax.third_party': 'third_party'},
    package_data={'smplr_jax.third_party': ['**/*']},
)
