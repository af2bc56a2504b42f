"""Task heads: a small table of (head function, loss, metrics); the head's output layer names the task."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import keras

from kerastl.errors import InvalidArgumentError
from kerastl.heads.pooled import SupervisedContrastiveLoss, dense_head, embedding
from kerastl.heads.segmentation import segmentation


@dataclass(frozen=True)
class Task:
    """`head(features, *, inputs, num_classes, dropout)` -> float32 output tensor named `output`.

    `pyramid`: the head reads the backbone's feature pyramid (P1…P5, finest first) instead of its last
    map. `key`: the name of the output in exported signatures. `argmax`: the prediction is the argmax
    over the last axis (then exports are checked on it, and a `class_id` output is added).
    """

    head: Callable
    output: str
    loss: Callable[[], str | keras.losses.Loss]
    metrics: Callable[[int], list]  # num_classes -> fresh metric objects for every compile
    min_outputs: int
    targets: str  # what `fit` expects as y, for docs and errors
    pyramid: bool = False
    key: str = "probabilities"
    argmax: bool = False


def _head(activation: str | None, name: str) -> Callable:
    return functools.partial(dense_head, activation=activation, name=name)


TASKS = {
    "classification": Task(
        _head("softmax", "predictions"), "predictions", lambda: "sparse_categorical_crossentropy",
        lambda n: ["accuracy"], 2, "class indices (batch,)", argmax=True),
    "multi_label": Task(
        _head("sigmoid", "multi_label"), "multi_label", lambda: "binary_crossentropy",
        lambda n: [keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(multi_label=True, name="auc"),
                   keras.metrics.Precision(name="precision"), keras.metrics.Recall(name="recall")],
        1, "0/1 vectors (batch, labels)"),
    "regression": Task(
        _head(None, "regression"), "regression", lambda: "mse", lambda n: ["mae"], 1,
        "float vectors (batch, outputs)", key="values"),
    "embedding": Task(
        embedding, "embedding", SupervisedContrastiveLoss, lambda n: [], 2,
        "class indices (batch,); batches should hold several images per class", key="embedding"),
    "segmentation": Task(
        segmentation, "segmentation", lambda: "sparse_categorical_crossentropy",
        lambda n: ["accuracy", keras.metrics.MeanIoU(n, sparse_y_pred=False, name="mean_iou")], 2,
        "class-index masks (batch, height, width)", pyramid=True, argmax=True),
}


def task_of(model: keras.Model) -> str:
    """The task of a model built by kerastl, from its output layer's name."""
    output = model.output_names[0]
    for name, task in TASKS.items():
        if task.output == output:
            return name
    raise InvalidArgumentError(f"model {model.name!r} has no kerastl task head (output layer {output!r})")


def hub_task(model: keras.Model) -> str | None:
    """"detection" (a KerasHub RetinaNet), "text_classification" (a KerasHub encoder with its
    preprocessor), or None: an image model whose task `task_of` reads from its output layer."""
    if "cls_logits" in model.output_names:
        return "detection"
    if isinstance(model.input, dict) and getattr(model, "preprocessor", None) is not None:
        return "text_classification"
    return None


__all__ = ["TASKS", "SupervisedContrastiveLoss", "Task", "hub_task", "segmentation", "task_of"]
