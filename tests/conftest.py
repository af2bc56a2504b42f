import os
import random
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SIGN_DIGITS = SHARED / "data" / "sign_digits"


def requires_shared(path: Path):
    return pytest.mark.skipif(not path.exists(), reason=f"{path} (../shared beside the repo) is missing")


def sign_digit_files(per_class: int, held_out: int, seed: int = 0):
    """(train files+labels: `per_class` per class, held-out files+labels: `held_out` in all, disjoint)."""
    rng = random.Random(seed)
    train, rest = [], []
    for label in range(10):
        files = sorted((SIGN_DIGITS / str(label)).glob("*.JPG"))
        rng.shuffle(files)
        train += [(f, label) for f in files[:per_class]]
        rest += [(f, label) for f in files[per_class:]]
    rng.shuffle(rest)
    return train, rest[:held_out]


def load_images(pairs, size: int) -> tuple[np.ndarray, np.ndarray]:
    import keras

    x = np.stack([keras.utils.img_to_array(keras.utils.load_img(f, target_size=(size, size))) for f, _ in pairs])
    return x.astype("float32"), np.array([label for _, label in pairs], dtype="int32")


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    import keras

    yield
    keras.backend.clear_session()
