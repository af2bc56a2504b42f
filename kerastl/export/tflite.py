"""TFLite flatbuffers from a Keras classifier: fp32, fp16, dynamic-range and full-integer int8.

Given calibration images, the modes that round weights convert a copy whose kernels were rounded on
those images (`kerastl.export.rounding`), not to the nearest grid point: dynamic and int8 to the int8
grid, fp16 to float16 with BatchNorms folded first. fp32 converts the model as it is."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Iterable

import keras
import numpy as np
import tensorflow as tf

from kerastl.export.rounding import fp16_rounded, input_moments, int8_rounded
from kerastl.progress import phase

MODES = ("fp32", "fp16", "dynamic", "int8")
ROUNDED = {"dynamic": int8_rounded, "int8": int8_rounded, "fp16": fp16_rounded}  # mode -> its rounded copy
ROUNDING_IMAGES = 32


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
    """`directory/<name>_<mode>.tflite` for each mode (probabilities out); `representative` images
    calibrate int8 and choose how fp16/int8 kernels round (the first ROUNDING_IMAGES)."""
    written = {}
    with tempfile.TemporaryDirectory() as scratch:
        graphs = {}  # one SavedModel per set of weights, converted once per mode
        moments = None  # the rounded copies' input statistics, computed once
        for mode in modes:
            rounding = ROUNDED.get(mode) if representative is not None else None
            if rounding not in graphs:
                graphs[rounding] = f"{scratch}/{len(graphs)}"
                with phase(f"export: {rounding.__name__ + ' copy' if rounding else 'graph'} for TFLite"):
                    if rounding and moments is None:
                        moments = input_moments(model, representative[:ROUNDING_IMAGES])
                    source = rounding(model, representative[:ROUNDING_IMAGES], moments=moments) if rounding else model
                    _save_graph(source, graphs[rounding])
            written[mode] = directory / f"{name}_{mode}.tflite"
            with phase(f"export: TFLite {mode}"):
                written[mode].write_bytes(converter(graphs[rounding], mode, representative, uint8_input).convert())
    return written


def _save_graph(model: keras.Model, path: str) -> None:
    """`model` as the SavedModel the converter reads: its variables and one serving function (saves and
    loads several times faster than a full Keras export, which the converter does not need)."""
    module = tf.Module()
    module.weights_ = [variable.value for variable in model.variables]  # the backend's tf.Variables
    spec = tf.TensorSpec([None, *model.inputs[0].shape[1:]], tf.float32, name="image")
    module.serve = tf.function(lambda image: model(image, training=False), input_signature=[spec])
    tf.saved_model.save(module, path, signatures={"serving_default": module.serve})


def _samples(images: np.ndarray) -> Iterable[list[np.ndarray]]:
    for image in images:
        yield [image[None].astype("float32")]
