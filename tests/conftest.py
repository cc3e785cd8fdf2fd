"""Test set-up: quiet TF, CPU only, deterministic seeds; paths to ../shared."""

import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import keras  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# Two logical CPUs, so MirroredStrategy can be tested without GPUs; this must happen before TF
# initialises its devices. Single-device code runs on the first one as usual.
_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(_cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(autouse=True)
def _seed_and_policy():
    keras.utils.set_random_seed(0)
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture
def shared_dir():
    """``../shared`` or a skip saying why (it is absent in a fresh clone elsewhere)."""
    if not SHARED.is_dir():
        pytest.skip(f"needs the project's shared/ folder at {SHARED} (absent in a fresh clone)")
    return SHARED
