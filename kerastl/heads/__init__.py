"""Task heads: a small table of (head function, loss, metrics); the head's output layer names the task."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import keras

from kerastl.errors import InvalidArgumentError
from kerastl.heads.classification import classification, dense_head


@dataclass(frozen=True)
class Task:
    head: Callable  # (features, num_classes=, dropout=) -> output tensor, in float32
    output: str  # name of the output layer, which is how a built model's task is recognised
    loss: str
    metrics: Callable[[], list]  # fresh metric objects for every compile
    min_outputs: int


TASKS = {
    "classification": Task(classification, "predictions", "sparse_categorical_crossentropy", lambda: ["accuracy"], 2),
    "multi_label": Task(
        lambda f, **kw: dense_head(f, activation="sigmoid", name="multi_label", **kw), "multi_label",
        "binary_crossentropy",
        lambda: [keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(multi_label=True, name="auc"),
                 keras.metrics.Precision(name="precision"), keras.metrics.Recall(name="recall")], 1),
    "regression": Task(
        lambda f, **kw: dense_head(f, activation=None, name="regression", **kw), "regression", "mse",
        lambda: ["mae"], 1),
}


def task_of(model: keras.Model) -> str:
    """The task of a model built by kerastl, from its output layer's name."""
    output = model.output_names[0]
    for name, task in TASKS.items():
        if task.output == output:
            return name
    raise InvalidArgumentError(f"model {model.name!r} has no kerastl task head (output layer {output!r})")


__all__ = ["TASKS", "Task", "classification", "task_of"]
