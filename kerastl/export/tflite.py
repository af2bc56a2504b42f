"""TFLite flatbuffers from a Keras image model: fp32, fp16, dynamic-range and full-integer int8, each with
TFLite Metadata (`kerastl.export.metadata`) when mediapipe is installed.

Given calibration images, the modes that round weights convert a copy whose kernels were rounded on
those images (`kerastl.export.rounding`), not to the nearest grid point: dynamic and int8 to the int8
grid, fp16 to float16 with BatchNorms folded first. fp32 converts the model as it is.

int8 of an image model takes uint8 pixels (what mobile runtimes feed; exact, since pixels are whole
numbers), int8 of an audio model float32 samples; both return float32. Its first and last ops stay in
float (`float_ops`). First: the model's own input normalisation (e.g. (x - 127) / 128, or an audio model's
whole log-mel frontend; quantised, it rounds every pixel twice), the stem stage (the ops up to the first
convolution that downsamples the first convolution's output) and that first downsampling block, up to
its projection (the next regular convolution), so int8 begins on a narrow tensor. 8-bit noise added
there passes through every later layer: on the demo model the stem's output alone carried the largest
share of the int8 noise in the logits, and with the stem in float, the first downsampling block's two
wide tensors the next largest (`bench/int8_noise.py`). Last: the head (global pooling, classifier,
softmax), whose int8 outputs come in steps (logits of 0.04 on the demo model, probabilities of 1/256)
that turn close classes into exact ties; its weights are few (12,800 on a 10-class Lite0)."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Iterable

import keras
import numpy as np
import tensorflow as tf
from tensorflow.lite.python import convert, schema_py_generated as schema

from kerastl.export.metadata import with_metadata
from kerastl.export.rounding import fp16_rounded, int8_rounded
from kerastl.progress import phase

MODES = ("fp32", "fp16", "dynamic", "int8")
ROUNDED = {"dynamic": int8_rounded, "int8": int8_rounded, "fp16": fp16_rounded}  # mode -> its rounded copy
ROUNDING_IMAGES = 32


def converter(saved_model: str, mode: str, representative: np.ndarray | None = None) -> tf.lite.TFLiteConverter:
    """The TFLite converter of the SavedModel directory `saved_model`, set up for `mode` (one of MODES);
    for int8 it only calibrates (see `convert_int8`)."""
    conv = tf.lite.TFLiteConverter.from_saved_model(saved_model)
    if mode != "fp32":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "fp16":
        conv.target_spec.supported_types = [tf.float16]
    elif mode == "int8":
        conv.representative_dataset = lambda: _samples(representative)
        conv._experimental_calibrate_only = True  # as tf.lite.experimental.QuantizationDebugger does
    return conv


INT8_INPUT = {"image": tf.uint8, "waveform": tf.float32}  # what int8 files take, by the model's input kind


def convert_int8(saved_model: str, representative: np.ndarray, input_type: tf.DType = tf.uint8) -> bytes:
    """Full-integer int8 (`input_type` in, float32 out) with `float_ops` left in float."""
    return quantize_int8(converter(saved_model, "int8", representative).convert(), input_type)


def quantize_int8(calibrated: bytes, input_type: tf.DType = tf.uint8, float_names: list[str] | None = None) -> bytes:
    """The int8 flatbuffer of a calibrated one (`converter(..., "int8", ...)`); the ops `float_names`
    (default: `float_ops(calibrated)`) left in float."""
    return convert.mlir_quantize(calibrated, input_data_type=input_type, output_data_type=tf.float32,
                                 denylisted_nodes=float_ops(calibrated) if float_names is None else float_names)


def float_ops(flatbuffer: bytes, first_block: bool = True, head: bool = True) -> list[str]:
    """Names of the ops of a TFLite model that int8 keeps in float: its first ops and, with `head`, its last.

    First: the ops through the first regular convolution (CONV_2D) after the first convolution whose
    output is smaller than the first convolution's, i.e. the input normalisation (everything before the
    first convolution), the stem stage and the first downsampling block up to its projection.
    Convolutions with a 1 x 1 output (squeeze-and-excitation's) count as neither. `first_block=False`, or
    no regular convolution after the downsampling one: the ops before the downsampling convolution (the
    stem stage alone); a model that never downsamples: the ops before its first convolution; no
    convolution: none.
    Last (the head): every op after the model's next-to-last layer with weights (convolution or fully
    connected): a classifier's global pooling, classifier and softmax; a segmenter's last convolution,
    upsampling and per-pixel softmax. Fewer than two layers with weights: none."""
    model = schema.Model.GetRootAsModel(flatbuffer, 0)
    graph = model.Subgraphs(0)
    ops = []  # (builtin code, output tensor) per op
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        opcode = model.OperatorCodes(op.OpcodeIndex())
        ops.append((max(opcode.BuiltinCode(), opcode.DeprecatedBuiltinCode()), graph.Tensors(op.Outputs(0))))
    names = [output.Name().decode() for _, output in ops]
    layers = [i for i, (code, _) in enumerate(ops) if code in _CONVOLUTIONS | {schema.BuiltinOperator.FULLY_CONNECTED}]
    last = names[layers[-2] + 1:] if head and len(layers) > 1 else []
    return list(dict.fromkeys(names[:_first_ops(ops, first_block)] + last))  # in order, each once


def _first_ops(ops: list, first_block: bool) -> int:
    """How many of `ops` (code, output tensor) `float_ops` keeps in float at the start."""
    first, stem_height, downsampling = None, None, None
    for i, (code, output) in enumerate(ops):
        if code not in _CONVOLUTIONS:
            continue
        height = output.ShapeAsNumpy()[1]
        if stem_height is None:
            first, stem_height = i, height
        elif height <= 1:
            continue
        elif downsampling is None and height < stem_height:
            downsampling = i
            if not first_block:
                break
        elif downsampling is not None and code == schema.BuiltinOperator.CONV_2D:
            return i + 1
    return (first or 0) if downsampling is None else downsampling


_CONVOLUTIONS = {schema.BuiltinOperator.CONV_2D, schema.BuiltinOperator.DEPTHWISE_CONV_2D}


def write_tflite(model: keras.Model, directory: Path, name: str, modes: tuple[str, ...],
                 representative: np.ndarray | None = None, metadata: dict | None = None,
                 kind: str = "image") -> dict[str, Path]:
    """`directory/<name>_<mode>.tflite` for each mode; `representative` inputs calibrate int8 and choose
    how fp16/int8 kernels round (the first ROUNDING_IMAGES); `metadata`: keyword arguments of
    `kerastl.export.metadata.with_metadata` (None: no metadata); `kind`: the model's input, "image" or
    "waveform" (the input's name; what int8 takes)."""
    written = {}
    with tempfile.TemporaryDirectory() as scratch:
        graphs = {}  # one SavedModel per set of weights, converted once per mode
        for mode in modes:
            rounding = ROUNDED.get(mode) if representative is not None else None
            if rounding not in graphs:
                graphs[rounding] = f"{scratch}/{len(graphs)}"
                with phase(f"export: {rounding.__name__ + ' copy' if rounding else 'graph'} for TFLite"):
                    source = rounding(model, representative[:ROUNDING_IMAGES]) if rounding else model
                    _save_graph(source, graphs[rounding], kind)
            written[mode] = directory / f"{name}_{mode}.tflite"
            with phase(f"export: TFLite {mode}"):
                flatbuffer = (convert_int8(graphs[rounding], representative, INT8_INPUT[kind]) if mode == "int8"
                              else converter(graphs[rounding], mode).convert())
                written[mode].write_bytes(with_metadata(flatbuffer, **metadata) if metadata else flatbuffer)
    return written


def _save_graph(model: keras.Model, path: str, kind: str = "image") -> None:
    """`model` as the SavedModel the converter reads: its variables and one serving function (saves and
    loads several times faster than a full Keras export, which the converter does not need)."""
    module = tf.Module()
    module.weights_ = [variable.value for variable in model.variables]  # the backend's tf.Variables
    spec = tf.TensorSpec([None, *model.inputs[0].shape[1:]], tf.float32, name=kind)
    module.serve = tf.function(lambda image: model(image, training=False), input_signature=[spec])
    tf.saved_model.save(module, path, signatures={"serving_default": module.serve})


def _samples(images: np.ndarray) -> Iterable[list[np.ndarray]]:
    for image in images:
        yield [image[None].astype("float32")]
