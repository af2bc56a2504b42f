"""`make demo` / `kerastl demo`: pretrained EfficientNet-Lite0 learns hand-sign digits, offline."""
from __future__ import annotations

from pathlib import Path

from kerastl.train.run import train_run
from kerastl.zoo.local import ASSETS

DATA = ASSETS / "sign_digits"


def run(out: str | Path = "runs/demo", *, head_epochs: int = 100, fine_tune_epochs: int = 4,
        export: bool = True) -> dict:
    """Two-phase transfer learning on the bundled 500 + 200 sign-digit photos; writes `out` (see train_run)."""
    return train_run(DATA, out, head_epochs=head_epochs, fine_tune_epochs=fine_tune_epochs, export=export,
                     name="sign_digits", overwrite=True)
