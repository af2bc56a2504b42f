"""The callbacks of a resumable run: all Keras' own, wired to one working directory."""
from __future__ import annotations

from pathlib import Path

import keras


def run_callbacks(directory: str | Path, *, monitor: str = "val_accuracy", patience: int | None = None) -> list:
    """Resume after an interruption (BackupAndRestore), keep the best model (`best.keras`), stop on
    NaN loss, log every epoch (`history.csv`, appended across resumes) and, with `patience`, stop early
    and restore the best weights. Run the same `fit` again with the same `directory` to resume."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    mode = "min" if "loss" in monitor else "max"
    callbacks = [
        keras.callbacks.BackupAndRestore(str(directory / "backup")),
        keras.callbacks.ModelCheckpoint(str(directory / "best.keras"), monitor=monitor, mode=mode, save_best_only=True),
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.CSVLogger(str(directory / "history.csv"), append=True),
    ]
    if patience is not None:
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=patience,
                                                       restore_best_weights=True))
    return callbacks
