"""Quantisation-aware fine-tuning and distillation (experiments of bench/quantization.py and
bench/int8_distill.py, not part of kerastl).

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

`int8_distilled` does the same without labels: the student learns to reproduce the float model's own
outputs on random crops, shifts and flips (`crop_flip`) of real images (quantisation-aware distillation).
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from kerastl.data.augment import augmenter
from kerastl.freeze import unfreeze

KERNEL_LAYERS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense)
_CONVOLUTIONS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)
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


def with_fake_quant(model: keras.Model, float_stem: bool = False) -> tuple[keras.Model, list[FakeQuant]]:
    """A model sharing `model`'s layers (and so its weights) with a FakeQuant on each int8 tensor.
    `float_stem`: the tensors before the convolution that ends the stem stage stay float (its input is
    rounded), as kerastl's int8 export kept them before it kept the first downsampling block in float too
    (`kerastl.export.tflite.float_ops(blocks=0, head=False)`); else every such
    tensor is rounded, the input rescaling's too (the int8 of `bench/quantization.py` and `bench/int8_noise.py`)."""
    inserted: list[FakeQuant] = []
    stage = {"stem_height": None, "int8": not float_stem}

    def quantised(x, name: str):
        inserted.append(FakeQuant(name=f"{name}_fake_quant"))
        return inserted[-1](x)

    def call(layer, *args, **kwargs):
        if isinstance(layer, _CONVOLUTIONS) and not stage["int8"]:
            height = layer.compute_output_shape(args[0].shape)[1]
            if stage["stem_height"] is None:
                stage["stem_height"] = height
            elif height is not None and 1 < height < stage["stem_height"]:
                stage["int8"] = True
            if stage["int8"]:
                args = (quantised(args[0], f"{layer.name}_input"), *args[1:])
        out = layer(*args, **kwargs)
        if stage["int8"] and (isinstance(layer, _QUANTISED_OUTPUTS) or (
                isinstance(layer, keras.layers.BatchNormalization) and not _followed_by_activation(layer))):
            return quantised(out, layer.name)
        return out

    clone = keras.models.clone_model(model, clone_function=lambda layer: layer, call_function=call, recursive=True)
    return clone, inserted


def calibrated_fake_quant(model: keras.Model, representative: np.ndarray,
                          float_stem: bool = False) -> tuple[keras.Model, list[FakeQuant]]:
    """`with_fake_quant(model)` with every range set from `representative` images, as TFLite calibrates."""
    simulated, fake_quants = with_fake_quant(model, float_stem)
    for fq in fake_quants:
        fq.calibrating = True
    for start in range(0, len(representative), 32):
        simulated(representative[start:start + 32], training=False)
    for fq in fake_quants:
        fq.calibrating = False
    return simulated, fake_quants


class _StraightThrough:
    """The trainable weights of `model` (every block, BatchNorm frozen: `unfreeze`) with its kernels behind
    float masters: `snap()` rounds the masters onto the kernels' int8 grid, `apply(tape, loss)` takes
    the gradients at the rounded kernels and applies them to the masters (straight-through estimator)."""

    def __init__(self, model: keras.Model, learning_rate: float):
        unfreeze(model)
        self.quantised = kernels(model)
        self.masters = [tf.Variable(kernel) for kernel, _ in self.quantised]
        self.others = [v for v in model.trainable_variables if not any(v is k for k, _ in self.quantised)]
        self.optimizer = keras.optimizers.Adam(learning_rate)
        self.optimizer.build(self.masters + self.others)

    def snap(self) -> None:
        for (kernel, depthwise), master in zip(self.quantised, self.masters):
            kernel.assign(int8_grid(master, depthwise))

    def apply(self, tape: tf.GradientTape, loss: tf.Tensor) -> None:
        grads = tape.gradient(loss, [k for k, _ in self.quantised] + self.others)
        self.optimizer.apply(grads, self.masters + self.others)


def quantization_aware_finetune(model: keras.Model, train: tf.data.Dataset, representative: np.ndarray, *,
                                epochs: int = 1, learning_rate: float = 1e-5) -> dict[str, list[float]]:
    """Fine-tune `model` in place under int8 noise; it ends with every kernel on the int8 grid.

    `train` yields (images, class indices); `representative` images (as given to `kerastl.export`)
    set the activation ranges. Every block trains, BatchNorm stays frozen (`unfreeze(model)`).
    Returns {"loss": [...], "accuracy": [...]} per epoch.
    """
    weights = _StraightThrough(model, learning_rate)
    qat, _ = calibrated_fake_quant(model, representative)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()

    @tf.function
    def step(x, y):
        weights.snap()
        with tf.GradientTape() as tape:
            probabilities = qat(x, training=True)
            loss = loss_fn(y, probabilities)
        weights.apply(tape, loss)
        return loss, tf.reduce_mean(tf.cast(tf.equal(tf.argmax(probabilities, -1), tf.cast(y, tf.int64)), tf.float32))

    history = {"loss": [], "accuracy": []}
    for _ in range(epochs):
        results = np.array([[float(v) for v in step(x, y)] for x, y in train])
        history["loss"].append(float(results[:, 0].mean()))
        history["accuracy"].append(float(results[:, 1].mean()))
    weights.snap()
    return history


def int8_distilled(model: keras.Model, images: np.ndarray, steps: int = 150, batch_size: int = 16,
                   learning_rate: float = 1e-5, seed: int = 0) -> tuple[keras.Model, list[float]]:
    """(a copy of `model` fine-tuned for `steps` under simulated int8 with the stem stage float (as kerastl
    exported it when `bench/int8_distill.py` was measured), to reproduce `model`'s softmax outputs on random crops, shifts and flips of `images` (which
    also set the activation ranges), every kernel on the int8 grid; the loss of each step). Loss: squared error of the centred log-probabilities;
    every block trains, BatchNorm in inference mode (`unfreeze`)."""
    student = keras.models.clone_model(model)
    student.set_weights(model.get_weights())
    weights = _StraightThrough(student, learning_rate)
    simulated, _ = calibrated_fake_quant(student, images, float_stem=True)
    crops = augmenter("crop_flip", seed)
    pool = tf.constant(images, tf.float32)

    def centred_log(outputs):
        log = tf.math.log(tf.maximum(tf.cast(outputs, tf.float32), 1e-12))
        return log - tf.reduce_mean(log, axis=-1, keepdims=True)

    @tf.function
    def step(index):
        x = crops(tf.gather(pool, index), training=True)
        target = centred_log(model(x, training=False))
        weights.snap()
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(centred_log(simulated(x, training=False)) - target))
        weights.apply(tape, loss)
        return loss

    rng = np.random.default_rng(seed)
    losses = [float(step(tf.constant(rng.choice(len(images), batch_size, replace=len(images) < batch_size))))
              for _ in range(steps)]
    weights.snap()
    return student, losses
