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


DEMO_DATA = ROOT / "kerastl" / "assets" / "sign_digits"


def photo_folder(root: Path, classes=("0", "1", "2"), per_class: int = 8, split: str = "train") -> Path:
    """`root/<class>/` holding copies of the bundled sign-digit photos of `split`; returns `root`."""
    import shutil

    for name in classes:
        (root / name).mkdir(parents=True)
        for photo in sorted((DEMO_DATA / split / name).iterdir())[:per_class]:
            shutil.copy(photo, root / name / photo.name)
    return root


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    """`kerastl demo --no-export` at 64 px through the CLI: one real run directory that the run and CLI
    tests inspect (a run's export is tested by tests/test_resume.py, exports by tests/test_export.py).
    Without augmentation: tests/test_distribute.py compares a two-worker run with it, where each worker
    augments its own share with its own draws (noise that is not the distribution's)."""
    from kerastl import cli

    out = tmp_path_factory.mktemp("demo") / "run"
    assert cli.main(["demo", "--out", str(out), "--image-size", "64", "--head-epochs", "40",
                     "--fine-tune-epochs", "1", "--augment", "none", "--no-export"]) == 0
    return out
