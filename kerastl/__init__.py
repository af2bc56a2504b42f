"""kerastl: transfer learning with Keras 3 — a backbone zoo, freezing recipes, verified exports."""
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


__version__ = "0.1.0"
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
