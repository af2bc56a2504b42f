import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from kerastl.data import load_images  # noqa: E402,F401  (re-exported for tests)

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SIGN_DIGITS = SHARED / "data" / "sign_digits"


def requires_shared(path: Path):
    return pytest.mark.skipif(not path.exists(), reason=f"{path} (../shared beside the repo) is missing")


def sign_digit_files(per_class: int, held_out: int, seed: int = 0):
    from kerastl.data import few_shot_split

    return few_shot_split(SIGN_DIGITS, per_class, held_out, seed)


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    import keras

    yield
    keras.backend.clear_session()
