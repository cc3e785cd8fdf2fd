"""Test set-up: quiet TF, CPU only, deterministic seeds; paths to ../shared."""

import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import keras  # noqa: E402
import pytest  # noqa: E402

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
