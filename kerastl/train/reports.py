"""Run artefacts: metrics from predictions, training-curve and confusion-matrix PNGs."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def predict_labels(model, dataset) -> tuple[np.ndarray, np.ndarray]:
    """(true labels, predicted labels) over a batched (images, labels) dataset, in one pass."""
    y_true, y_pred = [], []
    for images, labels in dataset:
        y_true.append(labels.numpy())
        y_pred.append(np.asarray(model.predict_on_batch(images)).argmax(axis=-1))
    return np.concatenate(y_true), np.concatenate(y_pred)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_curves(histories: dict[str, dict[str, list[float]]], path: str | Path) -> None:
    """Loss and accuracy per epoch, phases one after another."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    offset = 0
    for phase, history in histories.items():
        for ax, metric in zip(axes, ("loss", "accuracy")):
            for prefix in ("", "val_"):
                values = history.get(prefix + metric)
                if values:
                    epochs = range(offset + 1, offset + len(values) + 1)
                    ax.plot(epochs, values, label=f"{phase} {prefix or 'train_'}{metric}")
        offset += len(history.get("loss", []))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def save_confusion(matrix: np.ndarray, class_names: list[str], path: str | Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.imshow(matrix, cmap="Blues")
    ticks = range(len(class_names))
    ax.set_xticks(ticks, class_names)
    ax.set_yticks(ticks, class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, int(count), ha="center", va="center", fontsize=7,
                color="white" if count > matrix.max() / 2 else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
