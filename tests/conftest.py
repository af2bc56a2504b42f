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
    """Keras' global state reset after each test. Without its full garbage collection, which took 0.6 s a
    test (140 s of the suite's worker time): Python's own collector runs as objects accumulate."""
    import keras

    yield
    keras.backend.clear_session(free_memory=False)


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
def demo_run(tmp_path_factory, worker_id) -> Path:
    """`kerastl demo --no-export` at 64 px, run as a command: one real run directory that the run and CLI
    tests inspect (a run's export is tested by tests/test_resume.py, exports by tests/test_export.py).
    Built once per session: the first pytest worker to ask builds it under a lock, the others wait and
    reuse it. In a process of its own, so no worker is left to collect the run's TensorFlow objects
    (the worker that ran it in-process spent 8-61 s in the next test's teardown, `clear_session`).
    Phase 2 trains the top block only (24 s for the run, alone; the demo's top 5 blocks: 39 s).
    Without augmentation: tests/test_distribute.py compares a two-worker run with it, where each worker
    augments its own share with its own draws (noise that is not the distribution's)."""
    import fcntl
    import subprocess
    import sys

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if worker_id != "master" else base  # pytest-xdist: the session's directory
    out = shared / "demo" / "run"
    with open(shared / "demo.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "metrics.json").is_file():
            done = subprocess.run([sys.executable, "-m", "kerastl", "demo", "--out", str(out), "--image-size", "64",
                                   "--head-epochs", "40", "--fine-tune-epochs", "1", "--unfreeze-blocks", "1",
                                   "--augment", "none", "--no-export"], capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return out
