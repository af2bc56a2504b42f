"""Frozen-phase training on cached features: run the frozen backbone once, train the head many times.

The head model shares its layers with the full model, so training it trains the full model's head:
nothing is copied back, and the full model is ready for fine-tuning or export.
"""
from __future__ import annotations

import time

import keras
import numpy as np
import tensorflow as tf

from kerastl.freeze import find_backbone
from kerastl.heads import head_of
from kerastl.progress import logger

FEATURE_LAYER = "avg_pool"


def split_at_features(model: keras.Model) -> tuple[keras.Model, keras.Model]:
    """-> (extractor: pixels -> features, head: features -> outputs), sharing the model's layers.

    Features are the pooled vector (`avg_pool`) when the head pools, else the backbone's outputs (the
    feature pyramid of a segmentation model)."""
    if FEATURE_LAYER in {layer.name for layer in model.layers}:
        features = model.get_layer(FEATURE_LAYER).output
    else:
        _, backbone = find_backbone(model)
        features = backbone._inbound_nodes[0].output_tensors  # its call inside `model` (no public form)
    return keras.Model(model.input, features), keras.Model(features, model.outputs)


def feature_fn(extractor: keras.Model, dataset: tf.data.Dataset):
    """The extractor as one graph for every batch size of `dataset` (a partial last batch would otherwise
    trace the backbone a second time)."""
    image_spec = dataset.element_spec[0]
    spec = tf.TensorSpec([None, *image_spec.shape[1:]], image_spec.dtype)
    return tf.function(lambda images: extractor(images, training=False), input_signature=[spec])


def extract(run, dataset: tf.data.Dataset, copies: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Features (`run(images)`) and labels of `dataset`, `copies` passes (more than one only helps with
    augmentation)."""
    xs, ys = [], []
    start = time.perf_counter()
    for _ in range(copies):
        for images, labels in dataset:
            xs.append(tf.nest.map_structure(lambda t: t.numpy(), run(images)))
            ys.append(labels.numpy())
    seconds = time.perf_counter() - start
    count = sum(len(y) for y in ys)
    logger.info("features of %d images in %.1f s (%.0f images/s)", count, seconds, count / max(seconds, 1e-9))
    return tf.nest.map_structure(lambda *parts: np.concatenate(parts), *xs), np.concatenate(ys)


def fit_head(
    model: keras.Model,
    train: tf.data.Dataset,
    val: tf.data.Dataset | None = None,
    *,
    epochs: int = 50,
    learning_rate: float = 1e-3,
    batch_size: int = 32,
    copies: int = 1,
    callbacks: list | None = None,
    verbose: int = 0,
) -> keras.callbacks.History:
    """Train the head of `model` on cached backbone features of `train` (val scored on cached features too)."""
    extractor, head = split_at_features(model)
    run = feature_fn(extractor, train)
    x, y = extract(run, train, copies)
    validation = extract(run, val) if val is not None else None
    task = head_of(model)
    head.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=task.loss(),
                 metrics=task.metrics(head.outputs[0].shape[-1]))
    return head.fit(x, y, validation_data=validation, epochs=epochs, batch_size=batch_size, verbose=verbose,
                    callbacks=callbacks)
