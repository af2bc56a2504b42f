"""`make demo` / `kerastl demo`: pretrained EfficientNet-Lite0 learns hand-sign digits, offline."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from kerastl.train.run import train_run
from kerastl.zoo.local import ASSETS

DATA = ASSETS / "sign_digits"


def run(out: str | Path = "runs/demo", *, export: bool = True, overwrite: bool = True, **options: Any) -> dict:
    """The default recipe on images (kerastl.train.options.IMAGE_DEFAULTS) on the bundled 500 + 200 sign-digit
    photos; writes the run directory `out` (see train_run) and exports as `sign_digits`. `options` override
    the defaults."""
    return train_run(DATA, out, export=export, overwrite=overwrite, **{"name": "sign_digits", **options})
