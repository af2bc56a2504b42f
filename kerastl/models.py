"""`build`: zoo name -> compiled keras.Model (raw pixels in, task outputs out)."""
from __future__ import annotations

import contextlib
import os
from typing import Iterator

import keras
import tensorflow as tf

from kerastl import weights as weights_lib
from kerastl.distribute import get_strategy
from kerastl.errors import InvalidArgumentError
from kerastl.freeze import freeze as freeze_blocks
from kerastl.freeze import lora
from kerastl.freeze import unfreeze
from kerastl.heads import HUB_TASKS, TASKS, TaskModel, head_of, loss_of, task_of
from kerastl.layers import LogMelSpectrogram, SpectrogramImage
from kerastl.zoo import BackboneSpec, get
from kerastl.zoo.pyramid import pyramid_model


def _check_input_shape(spec: BackboneSpec, input_shape) -> tuple[int, int, int]:
    if input_shape is None:
        return spec.default_input_shape()
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else None
    if (
        shape is None
        or len(shape) != 3
        or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape)
        or shape[2] != 3
        or min(shape[:2]) < spec.min_size
    ):
        raise InvalidArgumentError(
            f"input_shape must be (height, width, 3) with height and width >= {spec.min_size} for "
            f"{spec.name!r}, got {input_shape!r}"
        )
    return shape


def _check_num_classes(num_classes, task: str) -> int:
    least = TASKS[task].min_outputs
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < least:
        hint = " (for a yes/no task use num_classes=2)" if task == "classification" else ""
        raise InvalidArgumentError(f"num_classes must be an int >= {least} for {task}, got {num_classes!r}{hint}")
    return num_classes


TASK_NAMES = (*TASKS, *HUB_TASKS)
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


@contextlib.contextmanager
def dtype_policy(precision: str) -> Iterator[None]:
    """Build layers under `precision`, then restore the global policy (no leak into later builds)."""
    if precision not in PRECISIONS:
        raise InvalidArgumentError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def create_backbone(name: str, *, weights="imagenet", input_shape=None) -> tuple[BackboneSpec, keras.Model, object]:
    """-> (spec, backbone taking raw pixels, weights file still to load or None)."""
    spec, named, weights_file = weights_lib.resolve(get(name), weights)
    shape = _check_input_shape(spec, input_shape)
    return spec, weights_lib.construct(spec, shape, named), weights_file


def build(
    name: str,
    num_classes: int,
    *,
    task: str = "classification",
    weights: str | os.PathLike | None = "imagenet",
    input_shape: tuple[int, int, int] | None = None,
    freeze: bool | int | str = True,
    train_bn: bool = False,
    lora_rank: int = 4,
    dropout: float = 0.2,
    learning_rate: float | None = None,
    precision: str = "float32",
    strategy: str | tf.distribute.Strategy | None = None,
    compile: bool = True,
    sample_rate: int = 16000,
    seconds: float = 1.0,
) -> keras.Model:
    """A zoo backbone plus a new task head, as a plain (compiled) keras.Model.

    Input: RGB pixels in [0, 255], float32, (height, width, 3); the backbone's preprocessing is inside.
    `task`: a key of kerastl.heads.TASKS — classification, multi_label, regression, embedding
    (`num_classes` = its size), segmentation (a U-Net over the backbone's feature pyramid), detection
    (KerasHub RetinaNet over the pyramid; see kerastl.heads.detection for the box format) or
    text_classification (`name` a KerasHub text preset, a preset directory or "minilm"; raw strings in;
    `freeze` True or False) or audio_classification (a mono waveform in, float32 in [-1, 1],
    `sample_rate` Hz × `seconds`; a log-mel spectrogram inside the model becomes the image the backbone
    sees, `input_shape` its size).
    `freeze`: True = feature extraction (whole backbone frozen), False = all blocks trainable, a block
    name or count = frozen up to that block, "lora" = frozen KerasHub transformer + rank-`lora_rank`
    LoRA adapters. BatchNorm stays in inference mode unless `train_bn`. `precision`: "float32",
    "mixed_float16" (with loss scaling) or "mixed_bfloat16" for this model only; outputs stay float32.
    `strategy`: a name from kerastl.distribute.STRATEGIES or a tf.distribute.Strategy; the model,
    optimizer and metrics are created in its scope (then `model.fit` distributes).
    """
    if task not in TASK_NAMES:
        raise InvalidArgumentError(f"unknown task {task!r}; choose one of {TASK_NAMES}")
    num_classes = _check_num_classes(num_classes, task if task in TASKS else "classification")
    if not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise InvalidArgumentError(f"dropout must be in [0, 1), got {dropout!r}")
    if learning_rate is not None and not (isinstance(learning_rate, (int, float)) and learning_rate > 0):
        raise InvalidArgumentError(f"learning_rate must be a positive number, got {learning_rate!r}")

    with get_strategy(strategy).scope(), dtype_policy(precision):
        if task == "text_classification":
            from kerastl.heads.text import text_classifier

            model = text_classifier(name, num_classes, weights=weights, freeze=freeze, dropout=dropout)
        else:
            model = _image_model(name, num_classes, task, weights, input_shape, dropout,
                                 audio=(sample_rate, seconds) if task == "audio_classification" else None)
            _set_frozen(model, freeze, train_bn, lora_rank)
        if compile:
            default_lr = 1e-3 if freeze is True or freeze == "lora" else 3e-5 if task == "text_classification" else 1e-4
            compile_task(model, learning_rate or default_lr)  # new weights only: a higher LR
    return model


def _image_model(name: str, num_classes: int, task: str, weights, input_shape, dropout: float,
                 audio: tuple[int, float] | None = None) -> keras.Model:
    spec, backbone, weights_file = create_backbone(name, weights=weights, input_shape=input_shape)
    if task == "detection":
        from kerastl.heads.detection import pyramid_encoder, retinanet

        if weights_file is not None:
            weights_lib.load_file(backbone, backbone, weights_file)
        return retinanet(pyramid_encoder(spec, backbone), num_classes)
    if audio:
        inputs = keras.Input((_samples(*audio),), name="waveform")
        pixels = SpectrogramImage(*backbone.inputs[0].shape[1:3])(log_mel(audio[0])(inputs))
    else:
        inputs = pixels = keras.Input(backbone.inputs[0].shape[1:], name="image")
    features = (pyramid_model(spec, backbone) if TASKS[task].pyramid else backbone)(pixels)
    outputs = TASKS[task].head(features, inputs=inputs, num_classes=num_classes, dropout=dropout)
    model = TaskModel(inputs, outputs, name=f"{backbone.name}_{task}", task=task)
    if weights_file is not None:
        weights_lib.load_file(model, backbone, weights_file)
    return model


def log_mel(sample_rate: int, mel_bins: int = 64) -> LogMelSpectrogram:
    """The log-mel frontend of audio models: `mel_bins` bands in dB of 25 ms windows every 10 ms."""
    return LogMelSpectrogram(sample_rate, mel_bins, name="log_mel")


def sample_rate_of(model: keras.Model) -> int:
    """The sample rate (Hz) of an audio_classification model's waveform input (its log-mel layer's)."""
    layer = next((layer for layer in model.layers if isinstance(layer, LogMelSpectrogram)), None)
    if layer is None:
        raise InvalidArgumentError(f"model {model.name!r} has no LogMelSpectrogram layer, so no sample rate: it is "
                                   "not an audio model of kerastl.build(..., task='audio_classification')")
    return int(layer.sample_rate)


def _samples(sample_rate, seconds) -> int:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate < 1000:
        raise InvalidArgumentError(f"sample_rate must be an int >= 1000 (Hz), got {sample_rate!r}")
    if not isinstance(seconds, (int, float)) or not 0.1 <= seconds <= 60:
        raise InvalidArgumentError(f"seconds must be between 0.1 and 60, got {seconds!r}")
    return int(round(sample_rate * seconds))


def _set_frozen(model: keras.Model, freeze, train_bn: bool, lora_rank: int) -> None:
    if freeze is True:
        freeze_blocks(model, train_bn=train_bn)
    elif freeze is False:
        unfreeze(model, "all", train_bn=train_bn)
    elif freeze == "lora":
        lora(model, lora_rank)
    else:
        freeze_blocks(model, upto=freeze, train_bn=train_bn)


def compile_task(model: keras.Model, optimizer: float | keras.optimizers.Optimizer,
                 label_smoothing: float = 0.0) -> keras.Model:
    """Compile with the loss and metrics of the model's task; a float means Adam(lr); `label_smoothing`
    for class-index targets (`kerastl.heads.loss_of`).

    Targets per task: kerastl.heads.TASKS[task].targets (class indices, 0/1 vectors, masks, …).
    """
    with model.distribute_strategy.scope():  # the strategy the model was built under
        if not isinstance(optimizer, keras.optimizers.Optimizer):
            optimizer = keras.optimizers.Adam(optimizer)
        if task_of(model) == "detection":  # a KerasHub RetinaNet: its own focal + Huber losses
            model.compile(optimizer=optimizer)
            return model
        task = head_of(model)
        model.compile(optimizer=optimizer, loss=loss_of(task, label_smoothing),
                      metrics=task.metrics(model.outputs[0].shape[-1]))
    return model
