"""Task heads: a small table of (head function, loss, metrics), and the record of a model's task."""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Callable

import keras

from kerastl.errors import InvalidArgumentError
from kerastl.heads.pooled import SmoothedSparseCrossentropy, SupervisedContrastiveLoss, dense_head, embedding
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
    input: str = "image"  # the model's input: "image" (RGB pixels 0-255) or "waveform" (mono samples in [-1, 1])


def _head(activation: str | None, name: str) -> Callable:
    return functools.partial(dense_head, activation=activation, name=name)


_CLASSIFICATION = Task(
    _head("softmax", "predictions"), "predictions", lambda: "sparse_categorical_crossentropy",
    lambda n: ["accuracy"], 2, "class indices (batch,)", argmax=True)
TASKS = {
    "classification": _CLASSIFICATION,
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
    # a waveform in: kerastl.models.build puts a log-mel frontend first
    "audio_classification": dataclasses.replace(_CLASSIFICATION, input="waveform"),
    "segmentation": Task(
        segmentation, "segmentation", lambda: "sparse_categorical_crossentropy",
        lambda n: ["accuracy", keras.metrics.MeanIoU(n, sparse_y_pred=False, name="mean_iou")], 2,
        "class-index masks (batch, height, width)", pyramid=True, argmax=True),
}


def loss_of(task: Task, label_smoothing: float = 0.0):
    """The loss `task` trains with; `label_smoothing` > 0 smooths the targets of a sparse cross-entropy task
    (classification, audio classification, segmentation)."""
    loss = task.loss()
    if not label_smoothing:
        return loss
    if loss != "sparse_categorical_crossentropy":
        raise InvalidArgumentError(f"label_smoothing applies to class-index targets; this task's loss is {loss!r}")
    return SmoothedSparseCrossentropy(label_smoothing)


HUB_TASKS = ("detection", "text_classification")  # KerasHub task models: their own export and compile paths


@keras.saving.register_keras_serializable(package="kerastl")
class TaskModel(keras.Model):
    """A functional image model built by kerastl that records its task (a key of TASKS); the task is
    saved in the model's config, so a reloaded model knows it too (`keras.models.clone_model` passes
    no task: a clone records none)."""

    def __init__(self, inputs, outputs, name=None, **kwargs):  # Functional's signature: saved as functional
        task = kwargs.pop("task", None)
        if task is not None and task not in TASKS:
            raise InvalidArgumentError(f"unknown task {task!r}; choose one of {tuple(TASKS)}")
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        self.kerastl_task = task

    def get_config(self):
        return {**super().get_config(), "task": self.kerastl_task}


def head_of(model: keras.Model) -> Task:
    """The TASKS entry (loss, metrics, output key) a kerastl model trains with; a text classifier's is
    classification's."""
    task = task_of(model)
    return TASKS["classification" if task == "text_classification" else task]


def task_of(model: keras.Model) -> str:
    """The task a kerastl model records: a TaskModel's `task`, or its KerasHub task class's
    (`kerastl_task`: "detection", "text_classification")."""
    task = getattr(model, "kerastl_task", None)
    if task is None:
        raise InvalidArgumentError(f"model {model.name!r} was not built by kerastl.build() (it records no task); "
                                   "build it with kerastl.build(name, num_classes, task=...)")
    return task


__all__ = ["HUB_TASKS", "TASKS", "head_of", "loss_of", "SmoothedSparseCrossentropy", "SupervisedContrastiveLoss", "Task", "TaskModel", "segmentation", "task_of"]
