"""Progress of long phases, as INFO records of the `kerastl` logger.

A library stays silent (Python's default handler shows only warnings); the `kerastl` command and the
demo print these records with the elapsed time (`kerastl.cli`).
"""
from __future__ import annotations

import contextlib
import logging
import time
from typing import Iterator

import keras

logger = logging.getLogger("kerastl")


@contextlib.contextmanager
def phase(title: str) -> Iterator[None]:
    """Log `title` when the block starts and its duration when it ends."""
    logger.info("%s ...", title)
    start = time.perf_counter()
    yield
    logger.info("%s: done in %.1f s", title, time.perf_counter() - start)


class EpochLog(keras.callbacks.Callback):
    """Logs `label` epoch k/n with the epoch's metrics, every `every` epochs and the last one."""

    def __init__(self, label: str, every: int = 1):
        super().__init__()
        self.label, self.every, self.started = label, max(every, 1), time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        total = self.params.get("epochs") or 0
        if (epoch + 1) % self.every == 0 or epoch + 1 == total:
            shown = " ".join(f"{k}={float(v):.4f}" for k, v in sorted((logs or {}).items()))
            logger.info("%s epoch %d/%d: %s (%.1f s)", self.label, epoch + 1, total, shown,
                        time.perf_counter() - self.started)
