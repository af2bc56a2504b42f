"""The callbacks of a resumable run, wired to one working directory."""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import keras

from kerastl.io import atomic_file, write_text
from kerastl.progress import logger


def improves(value: float, best: float | None, monitor: str) -> bool:
    """Whether `value` of `monitor` beats `best` strictly: lower for a loss, higher otherwise."""
    return best is None or (value < best if "loss" in monitor else value > best)


class BestModel(keras.callbacks.Callback):
    """Saves the model to `path` whenever `monitor` improves. Each save is written under a temporary
    name and renamed (a kill mid-write leaves the previous file intact), and the best value is kept
    in `<path>.json`, so a resumed run keeps comparing with the epochs before the interruption."""

    def __init__(self, path: str | Path, monitor: str):
        super().__init__()
        self.path, self.monitor = Path(path), monitor
        self.record = self.path.with_name(self.path.name + ".json")
        self.best = json.loads(self.record.read_text())["value"] if self.record.is_file() else None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or math.isnan(value):
            return
        if improves(value, self.best, self.monitor):
            logger.info("saving %s (epoch %d, %s=%.4f)", self.path.name, epoch + 1, self.monitor, value)
            with atomic_file(self.path) as tmp:
                self.model.save(tmp)
            self.best = float(value)
            write_text(self.record, json.dumps({"epoch": epoch + 1, "value": self.best}))


def run_callbacks(directory: str | Path | None, *, monitor: str = "val_accuracy", patience: int | None = None,
                  resume: bool = True) -> list:
    """Resume after an interruption (BackupAndRestore, keeping the previous state too; `resume=False` for
    several `fit` calls in a row, e.g. the gradual recipe's stages, which it cannot resume), keep the best
    model (`best.keras`), stop on NaN loss, log every epoch (`history.csv`, appended across resumes; read
    it with `read_history`) and, with `patience`, stop early and restore the best weights. Run the same
    `fit` again with the same `directory` to resume. `directory=None` (a cluster's non-chief worker):
    only the callbacks that write nothing."""
    mode = "min" if "loss" in monitor else "max"
    callbacks = [keras.callbacks.TerminateOnNaN()]
    if directory is not None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        callbacks = [  # the log first: an epoch in the backup is always in the log
            keras.callbacks.CSVLogger(str(directory / "history.csv"), append=True),
            *([keras.callbacks.BackupAndRestore(str(directory / "backup"), double_checkpoint=True)] if resume else []),
            BestModel(directory / "best.keras", monitor),
            *callbacks,
        ]
    if patience is not None:
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=patience,
                                                       restore_best_weights=True))
    return callbacks


def read_history(path: str | Path) -> dict[str, list[float]]:
    """The per-epoch history a CSVLogger wrote across resumes: a re-run epoch replaces its earlier row,
    a row cut short by a kill is ignored."""
    if not Path(path).is_file():
        return {}
    rows: dict[int, dict[str, float]] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            try:
                epoch = int(row.pop("epoch"))
                rows[epoch] = {k: float(v) for k, v in row.items()}
            except (TypeError, ValueError):
                continue  # header repeated by an appended run, or a partial last line
    history: dict[str, list[float]] = {}
    for epoch in sorted(rows):
        for key, value in rows[epoch].items():
            history.setdefault(key, []).append(value)
    return history
