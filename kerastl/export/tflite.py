"""TFLite flatbuffers from a Keras classifier: fp32, fp16, dynamic-range and full-integer int8."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Iterable

import keras
import numpy as np
import tensorflow as tf

MODES = ("fp32", "fp16", "dynamic", "int8")


def converter(saved_model: str, mode: str, representative: np.ndarray | None = None,
              uint8_input: bool = False) -> tf.lite.TFLiteConverter:
    """The TFLite converter of the SavedModel directory `saved_model`, set up for `mode` (one of MODES)."""
    conv = tf.lite.TFLiteConverter.from_saved_model(saved_model)
    if mode != "fp32":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "fp16":
        conv.target_spec.supported_types = [tf.float16]
    elif mode == "int8":
        conv.representative_dataset = lambda: _samples(representative)
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if uint8_input:
            conv.inference_input_type = tf.uint8
    return conv


def write_tflite(model: keras.Model, directory: Path, name: str, modes: tuple[str, ...],
                 representative: np.ndarray | None = None, uint8_input: bool = False) -> dict[str, Path]:
    """`directory/<name>_<mode>.tflite` for each mode (probabilities out); `representative` images calibrate int8."""
    written = {}
    with tempfile.TemporaryDirectory() as plain:
        model.export(plain, format="tf_saved_model", verbose=False)  # one graph, converted once per mode
        for mode in modes:
            written[mode] = directory / f"{name}_{mode}.tflite"
            written[mode].write_bytes(converter(plain, mode, representative, uint8_input).convert())
    return written


def _samples(images: np.ndarray) -> Iterable[list[np.ndarray]]:
    for image in images:
        yield [image[None].astype("float32")]
