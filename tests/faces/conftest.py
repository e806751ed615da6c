import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import pytest


@pytest.fixture(scope="session")
def mtcnn_params():
  from jaxvis.faces import weights
  return weights.load_pretrained()


@pytest.fixture(scope="session")
def reference_detector():
  """The mtcnn package (TensorFlow), built once per session."""
  from mtcnn import MTCNN
  return MTCNN()
