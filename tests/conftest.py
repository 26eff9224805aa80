"""Shared pytest set-up: deterministic seeds, the facelib import (detectron2._C stand-in), and
the ``shared_data`` fixture that skips cleanly when ../shared/data is absent."""
import os
import random

import numpy as np
import pytest
import torch

import facelib  # noqa: F401  (installs the detectron2._C stand-in before detectron2.engine imports)
from facelib.paths import shared_data_root

# One intra-op thread: tests run many tiny ops, where thread start-up and oversubscription (a
# training run beside the suite) cost far more than parallelism gains.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed_everything():
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield


@pytest.fixture
def shared_data():
    """Path of ../shared/data; skips the test when it is not present."""
    root = shared_data_root()
    if not os.path.isdir(root):
        pytest.skip(f"shared data not found at {root}")
    return root
