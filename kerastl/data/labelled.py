"""What every labelled loader returns: batched (input, label) datasets, class names and the files behind them."""
from __future__ import annotations

import dataclasses

import tensorflow as tf


@dataclasses.dataclass
class LabelledData:
    """Batched (inputs, label int32) datasets, the class names (index order) and the files listed per split."""

    train: tf.data.Dataset
    val: tf.data.Dataset | None
    class_names: list[str]
    skipped: list[str] = dataclasses.field(default_factory=list)  # unreadable files left out (grows at run time)
    files: dict[str, list[tuple[str, int]]] = dataclasses.field(default_factory=dict)  # split -> listed (file, class)
    test: tf.data.Dataset | None = None  # the folder's test/ split: scored, never used to choose a model

    @property
    def val_files(self) -> list[tuple[str, int]]:
        """(file, class index) of `val`, less the files skipped so far."""
        skipped = set(self.skipped)
        return [pair for pair in self.files.get("val", []) if pair[0] not in skipped]

    def count(self, split: str) -> int:
        """Examples in `split` ("train", "val", "test"): listed less skipped, or counted by a pass (TFDS)."""
        if split in self.files:
            skipped = set(self.skipped)
            return sum(f not in skipped for f, _ in self.files[split])
        dataset = getattr(self, split)
        return 0 if dataset is None else sum(int(y.shape[0]) for _, y in dataset)
