"""kerastl: transfer learning with Keras 3 — a backbone zoo, freezing recipes, verified exports."""
import contextlib as _contextlib
import os as _os
import sys as _sys


@_contextlib.contextmanager
def _quiet_start_up():
    """The `kerastl` command (or `python -m kerastl`) hides the C++ lines TensorFlow prints to stderr
    while it loads (absl, oneDNN, CUDA: TF_CPP_MIN_LOG_LEVEL does not reach them); a program that
    imports kerastl sees them as usual, and so does `kerastl --verbose`."""
    command = bool(_sys.argv) and _os.path.basename(_sys.argv[0]) in ("kerastl", "-m")
    if not command or "--verbose" in _sys.argv:
        yield
        return
    _sys.stderr.flush()
    saved, null = _os.dup(2), _os.open(_os.devnull, _os.O_WRONLY)
    _os.dup2(null, 2)
    try:
        yield
    finally:
        _os.dup2(saved, 2)
        _os.close(saved)
        _os.close(null)


with _quiet_start_up():
    from kerastl import layers  # noqa: F401  (registers kerastl's serialisable layers)
    from kerastl import data, heads  # noqa: F401  (kerastl.data.image_folder, kerastl.heads.TASKS)
from kerastl.adapt import adapt
from kerastl.errors import (
    DataUnavailableError,
    ExportVerificationError,
    InvalidArgumentError,
    KerastlError,
    UnknownBackboneError,
    WeightsUnavailableError,
)
from kerastl.export import export
from kerastl.freeze import blocks, freeze, unfreeze
from kerastl.models import build
from kerastl.train import fine_tune
from kerastl.zoo import list_backbones


def info(name: str) -> dict:
    """What the zoo knows about a backbone: source, input size, preprocessing, blocks pattern, licence."""
    from kerastl.zoo import get

    return get(name).summary()


__version__ = "0.2.0"
__all__ = [
    "DataUnavailableError",
    "ExportVerificationError",
    "InvalidArgumentError",
    "KerastlError",
    "UnknownBackboneError",
    "WeightsUnavailableError",
    "adapt",
    "blocks",
    "build",
    "export",
    "fine_tune",
    "freeze",
    "info",
    "list_backbones",
    "unfreeze",
]
