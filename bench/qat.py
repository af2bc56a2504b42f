"""Quantisation-aware fine-tuning (an experiment of bench/quantization.py, not part of kerastl yet).

Post-training int8 quantisation rounds every kernel to a per-channel grid and every activation to
256 levels; on a fine-tuned classifier the accumulated noise flips a few borderline predictions
(`bench/quantization.py`). `quantization_aware_finetune` trains the model for a short while under
that same noise, then leaves it holding weights that are exactly on the int8 grid:

- kernels (Conv2D, DepthwiseConv2D, Dense): symmetric per-output-channel int8, as TFLite rounds them
  (a following BatchNorm only rescales whole output channels, so folding keeps them on the grid);
  the straight-through estimator: gradients are taken at the rounded kernels, applied to float copies.
- activations: `tf.quantization.fake_quant_with_min_max_vars` wherever TFLite keeps an int8 tensor
  (after activations, adds, pooling, the rescaling and BatchNorms that no activation follows), with
  the min/max ranges TFLite's calibration would take from the same representative images.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from kerastl.freeze import unfreeze

KERNEL_LAYERS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense)
_QUANTISED_OUTPUTS = (keras.layers.Activation, keras.layers.ReLU, keras.layers.Add, keras.layers.Rescaling,
                      keras.layers.GlobalAveragePooling2D)


class FakeQuant(keras.layers.Layer):
    """8-bit fake quantisation of a tensor over a [min, max] range first set by `calibrate` passes;
    `enabled = False` passes the tensor through (eager calls only)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calibrating = False
        self.enabled = True
        self.low = self.add_weight(shape=(), initializer="zeros", trainable=False, name="min")
        self.high = self.add_weight(shape=(), initializer="zeros", trainable=False, name="max")

    def call(self, x):
        if self.calibrating:  # eager passes only: the running min/max, as TFLite's calibration takes it
            self.low.assign(tf.minimum(self.low, tf.reduce_min(x)))
            self.high.assign(tf.maximum(self.high, tf.reduce_max(x)))
            return x
        if not self.enabled:
            return x
        return tf.quantization.fake_quant_with_min_max_vars(x, self.low, self.high, num_bits=8)


def int8_grid(kernel: tf.Tensor, depthwise: bool) -> tf.Tensor:
    """`kernel` rounded to TFLite's symmetric per-output-channel int8 grid (scale = max |w| / 127)."""
    rank = len(kernel.shape)
    axes = list(range(rank - 2 if depthwise else rank - 1))
    step = tf.reduce_max(tf.abs(kernel), axis=axes, keepdims=True) / 127.0
    step = tf.where(step > 0, step, tf.ones_like(step))
    return tf.round(kernel / step) * step


def kernels(model: keras.Model) -> list[tuple[keras.Variable, bool]]:
    """(kernel, is depthwise) of every Conv2D, DepthwiseConv2D and Dense layer in `model`."""
    return [(layer.kernel, isinstance(layer, keras.layers.DepthwiseConv2D))
            for layer in model._flatten_layers() if isinstance(layer, KERNEL_LAYERS)]


def snap_to_int8_grid(model: keras.Model) -> None:
    """Round every kernel of `model` to the int8 grid in place."""
    for kernel, depthwise in kernels(model):
        kernel.assign(int8_grid(kernel, depthwise))


def _followed_by_activation(layer: keras.layers.Layer) -> bool:
    return any(isinstance(node.operation, (keras.layers.Activation, keras.layers.ReLU))
               for node in layer._outbound_nodes)


def with_fake_quant(model: keras.Model) -> tuple[keras.Model, list[FakeQuant]]:
    """A model sharing `model`'s layers (and so its weights) with FakeQuant after each int8 tensor."""
    inserted: list[FakeQuant] = []

    def call(layer, *args, **kwargs):
        out = layer(*args, **kwargs)
        quantised = isinstance(layer, _QUANTISED_OUTPUTS) or (
            isinstance(layer, keras.layers.BatchNormalization) and not _followed_by_activation(layer))
        if not quantised:
            return out
        inserted.append(FakeQuant(name=f"{layer.name}_fake_quant"))
        return inserted[-1](out)

    clone = keras.models.clone_model(model, clone_function=lambda layer: layer, call_function=call, recursive=True)
    return clone, inserted


def calibrated_fake_quant(model: keras.Model, representative: np.ndarray) -> tuple[keras.Model, list[FakeQuant]]:
    """`with_fake_quant(model)` with every range set from `representative` images, as TFLite calibrates."""
    simulated, fake_quants = with_fake_quant(model)
    for fq in fake_quants:
        fq.calibrating = True
    for start in range(0, len(representative), 32):
        simulated(representative[start:start + 32], training=False)
    for fq in fake_quants:
        fq.calibrating = False
    return simulated, fake_quants


def quantization_aware_finetune(model: keras.Model, train: tf.data.Dataset, representative: np.ndarray, *,
                                epochs: int = 1, learning_rate: float = 1e-5) -> dict[str, list[float]]:
    """Fine-tune `model` in place under int8 noise; it ends with every kernel on the int8 grid.

    `train` yields (images, class indices); `representative` images (as given to `kerastl.export`)
    set the activation ranges. Every block trains, BatchNorm stays frozen (`unfreeze(model)`).
    Returns {"loss": [...], "accuracy": [...]} per epoch.
    """
    unfreeze(model)
    qat, _ = calibrated_fake_quant(model, representative)
    quantised = kernels(model)
    masters = [tf.Variable(kernel) for kernel, _ in quantised]
    trainable = [v for v in model.trainable_variables if not any(v is k for k, _ in quantised)]
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(masters + trainable)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()

    def snap():
        for (kernel, depthwise), master in zip(quantised, masters):
            kernel.assign(int8_grid(master, depthwise))

    @tf.function
    def step(x, y):
        snap()
        with tf.GradientTape() as tape:
            probabilities = qat(x, training=True)
            loss = loss_fn(y, probabilities)
        grads = tape.gradient(loss, [k for k, _ in quantised] + trainable)
        optimizer.apply(grads, masters + trainable)
        return loss, tf.reduce_mean(tf.cast(tf.equal(tf.argmax(probabilities, -1), tf.cast(y, tf.int64)), tf.float32))

    history = {"loss": [], "accuracy": []}
    for _ in range(epochs):
        results = np.array([[float(v) for v in step(x, y)] for x, y in train])
        history["loss"].append(float(results[:, 0].mean()))
        history["accuracy"].append(float(results[:, 1].mean()))
    snap()
    return history
