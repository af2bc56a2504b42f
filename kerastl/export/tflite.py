"""TFLite flatbuffers from a Keras image model: fp32, fp16, dynamic-range and full-integer int8, each with
TFLite Metadata (`kerastl.export.metadata`) when mediapipe is installed.

Given calibration images, the modes that round weights convert a copy whose kernels were rounded on
those images (`kerastl.export.rounding`), not to the nearest grid point: dynamic and int8 to the int8
grid, fp16 to float16 with BatchNorms folded first. fp32 converts the model as it is.

int8 of an image model takes uint8 pixels (what mobile runtimes feed; exact, since pixels are whole
numbers), int8 of an audio model float32 samples; both return float32. Its first and last ops stay in
float (`float_ops`). First: the model's own input normalisation (e.g. (x - 127) / 128, or an audio model's
whole log-mel frontend; quantised, it rounds every pixel twice), the stem stage (the ops up to the first
convolution that downsamples the first convolution's output) and the first downsampling block, up to
its projection (the next regular convolution), so int8 begins on a narrow tensor. 8-bit noise added
there passes through every later layer: on one demo model the stem's output alone carried the largest
share of the int8 noise in the logits, and on another, with the stem in float, the first downsampling
block's two wide tensors the next largest (`bench/int8_noise.py`). Last: the head (global pooling,
classifier, softmax), whose int8 outputs come in steps (logits of 0.04 on a demo model, probabilities of
1/256) that turn close classes into exact ties; its weights are few (12,800 on a 10-class Lite0).
A classifier's export keeps more downsampling blocks in float where its predicted agreement misses its
bound (`select_int8`, INT8_BLOCKS).

Quantised classifiers are judged on top-1 agreement with ties excused (`disagreements`, NEAR_TIE): where
the float model scores two classes within 5 % of each other, either is its answer."""
from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Iterable

import keras
import numpy as np
import tensorflow as tf
from tensorflow.lite.python import convert, schema_py_generated as schema

from kerastl.export import runners
from kerastl.export.metadata import with_metadata
from kerastl.export.rounding import fp16_rounded, int8_rounded
from kerastl.progress import logger, phase

MODES = ("fp32", "fp16", "dynamic", "int8")
ROUNDED = {"dynamic": int8_rounded, "int8": int8_rounded, "fp16": fp16_rounded}  # mode -> its rounded copy
ROUNDING_IMAGES = 32
# log score: a class the float model scores at most this far below its best (probability within 5 %) is as
# much its answer. Saving a photo again as JPEG moved three models' log scores by 0.23-0.32 (rms), one-block
# int8 by 0.07-0.08 (`zoo/RESULTS.md`, "Quantised files judged with ties excused").
NEAR_TIE = 0.05


def converter(saved_model: str, mode: str, representative: np.ndarray | None = None) -> tf.lite.TFLiteConverter:
    """The TFLite converter of the SavedModel directory `saved_model`, set up for `mode` (one of MODES);
    for int8 it only calibrates (see `quantize_int8`)."""
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
# `float_ops(blocks=)` rules int8 tries in turn (`select_int8`): the first downsampling block in float, then more
# (on Lite0, 4: through block 6a, the last)
INT8_BLOCKS = (1, 2, 3, 4)


def quantize_int8(calibrated: bytes, input_type: tf.DType = tf.uint8, *, blocks: int = INT8_BLOCKS[0],
                  head: bool = True) -> bytes:
    """The int8 flatbuffer (`input_type` in, float32 out) of a calibrated one (`converter(..., "int8", ...)`),
    with `float_ops(calibrated, blocks, head)` left in float."""
    return _quantize(calibrated, input_type, float_ops(calibrated, blocks, head))


def _quantize(calibrated: bytes, input_type: tf.DType, float_names: list[str]) -> bytes:
    return convert.mlir_quantize(calibrated, input_data_type=input_type, output_data_type=tf.float32,
                                 denylisted_nodes=float_names)


def select_int8(calibrated: bytes, input_type: tf.DType, probes: np.ndarray, probe_outputs: np.ndarray,
                reference: np.ndarray, bound: float, tie: float = 0.0) -> tuple[bytes, dict]:
    """(int8 flatbuffer, how it was chosen): the first of INT8_BLOCKS whose predicted top-1 agreement with the
    float model (`disagreements` with `tie`) meets `bound` on the inputs whose float outputs (class scores)
    are `reference`, i.e. whose expected disagreements are at most (1 - bound) of them; if none does, the one
    with the fewest. A rule that keeps the same ops in float as the one before (a model with fewer
    downsampling blocks) is not tried again.

    The prediction uses no int8 output on those inputs: int8's error in log scores, measured on `probes`
    (inputs that did not round kernels, though they may have calibrated the activation ranges; their float
    outputs `probe_outputs`), is added to each reference output in turn (`expected_disagreements`). Each
    rule tried also records the probability that the agreement measured on exactly these inputs meets
    `bound` (its disagreements taken as Poisson)."""
    if not len(probes) or not len(reference):
        raise ValueError("select_int8 needs probes and reference outputs")
    tried, best, kept = [], None, None
    for blocks in INT8_BLOCKS:
        if kept == (kept := float_ops(calibrated, blocks)):
            continue
        flatbuffer = _quantize(calibrated, input_type, kept)
        expected, meets = predicted_agreement(flatbuffer, probes, probe_outputs, reference, bound, tie)
        tried.append({"blocks": blocks, "expected_disagreements": round(expected, 3), "p_meets_bound": round(meets, 4)})
        if best is None or expected < best[1]:
            best = (flatbuffer, expected, tried[-1])
        if meets_on_average(expected, len(reference), bound):  # fewer than every rule's before: `best` already
            break
    return best[0], {"float_blocks": best[2]["blocks"], "expected_disagreements": best[2]["expected_disagreements"],
                     "predicted_to_meet_bound": meets_on_average(best[1], len(reference), bound),
                     "near_tie": tie, "probes": len(probes), "tried": tried}


def meets_on_average(expected: float, n: int, bound: float) -> bool:
    """Whether `expected` disagreements in `n` inputs meet a top-1 agreement `bound` (judged as a measured
    agreement is: (n - disagreements) / n >= bound)."""
    return (n - expected) / n >= bound


def predicted_agreement(flatbuffer: bytes, probes: np.ndarray, probe_outputs: np.ndarray, reference: np.ndarray,
                        bound: float, tie: float = 0.0) -> tuple[float, float]:
    """(expected disagreements, probability of meeting `bound`) of the int8 `flatbuffer` with the float model on
    the inputs whose float class scores are `reference`, from its error on `probes` (see `select_int8`)."""
    n = len(reference)
    allowed = max(d for d in range(n + 1) if meets_on_average(d, n, bound))  # disagreements the bound allows
    expected = expected_disagreements(reference, _log(runners.tflite(flatbuffer)(probes)) - _log(probe_outputs), tie)
    return expected, _poisson_cdf(allowed, expected)


def expected_disagreements(reference: np.ndarray, noise: np.ndarray, tie: float = 0.0) -> float:
    """How many of the inputs with float class scores `reference` (n, classes) are expected to disagree
    (`disagreements` with `tie`) when each error of `noise` (m, classes; in log scores) is added to them in turn."""
    moved = (_log(reference)[:, None, :] + noise[None, :, :]).argmax(-1)  # (n, m) classes
    return float(disagreements(reference[:, None, :], moved, tie).mean(1).sum())


def disagreements(reference: np.ndarray, classes: np.ndarray, tie: float = 0.0) -> np.ndarray:
    """Where `classes` (another model's top-1, shape reference.shape[:-1]) disagree with the float model whose
    class scores are `reference`: a different class that it does not score within `tie` of its best, in log
    scores (tie 0: any different class)."""
    scores = _log(reference)
    chosen = np.take_along_axis(scores, classes[..., None], -1)[..., 0]
    return (classes != scores.argmax(-1)) & ~(scores.max(-1) - chosen < tie)


def _poisson_cdf(k: int, mean: float) -> float:
    """P(X <= k) for X ~ Poisson(mean)."""
    term = total = math.exp(-mean)
    for i in range(1, k + 1):
        term *= mean / i
        total += term
    return min(total, 1.0)


def _log(probabilities: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(probabilities, 1e-12))


def float_ops(flatbuffer: bytes, blocks: int = INT8_BLOCKS[0], head: bool = True) -> list[str]:
    """Names of the ops of a TFLite model that int8 keeps in float: its first ops and, with `head`, its last.

    First: the input normalisation (everything before the first convolution), the stem stage and the
    first `blocks` downsampling blocks, each up to its projection: the ops through the first regular
    convolution (CONV_2D) after each of the first `blocks` convolutions whose output is smaller than every
    convolution's before it (on Lite0, blocks=1: through block 2a; 2: block 3a; 3: block 4a; 4: block 6a).
    Convolutions with a 1 x 1 output (squeeze-and-excitation's) count as neither. `blocks=0`, or no
    regular convolution after the first downsampling one: the ops before that downsampling convolution
    (the stem stage alone); fewer than `blocks` downsampling blocks: through the last projection found; a
    model that never downsamples: the ops before its first convolution; no convolution: none.
    Last (the head): every op after the model's next-to-last layer with weights (convolution or fully
    connected): a classifier's global pooling, classifier and softmax; a segmenter's last convolution,
    upsampling and per-pixel softmax. Fewer than two layers with weights: none."""
    graph, ops = operators(flatbuffer)
    ops = [(code, graph.Tensors(op.Outputs(0))) for code, op in ops]  # (builtin code, output tensor) per op
    names = [output.Name().decode() for _, output in ops]
    layers = [i for i, (code, _) in enumerate(ops) if code in WEIGHTED]
    last = names[layers[-2] + 1:] if head and len(layers) > 1 else []
    return list(dict.fromkeys(names[:_first_ops(ops, blocks)] + last))  # in order, each once


def operators(flatbuffer: bytes) -> tuple[schema.SubGraph, list[tuple[int, schema.Operator]]]:
    """(the main graph, (builtin code, op) for each of its ops in order) of a TFLite flatbuffer."""
    model = schema.Model.GetRootAsModel(flatbuffer, 0)
    graph, ops = model.Subgraphs(0), []
    for i in range(graph.OperatorsLength()):
        opcode = model.OperatorCodes(graph.Operators(i).OpcodeIndex())
        ops.append((max(opcode.BuiltinCode(), opcode.DeprecatedBuiltinCode()), graph.Operators(i)))
    return graph, ops


def _first_ops(ops: list, blocks: int) -> int:
    """How many of `ops` (code, output tensor) `float_ops` keeps in float at the start."""
    end, height, downsampled, projected = 0, None, 0, True
    for i, (code, output) in enumerate(ops):
        if code not in _CONVOLUTIONS:
            continue
        if height is None:  # the first convolution
            end, height = i, output.ShapeAsNumpy()[1]
        elif output.ShapeAsNumpy()[1] <= 1:
            continue
        elif output.ShapeAsNumpy()[1] < height:  # a downsampling convolution
            height, downsampled, projected = output.ShapeAsNumpy()[1], downsampled + 1, False
            end = i if downsampled == 1 else end
            if downsampled > blocks:
                break
        elif not projected and code == schema.BuiltinOperator.CONV_2D:  # its projection
            end, projected = i + 1, True
            if downsampled == blocks:
                break
    return end


_CONVOLUTIONS = {schema.BuiltinOperator.CONV_2D, schema.BuiltinOperator.DEPTHWISE_CONV_2D}
WEIGHTED = _CONVOLUTIONS | {schema.BuiltinOperator.FULLY_CONNECTED}  # ops whose second input is a kernel


def write_tflite(model: keras.Model, directory: Path, name: str, modes: tuple[str, ...],
                 representative: np.ndarray | None = None, metadata: dict | None = None,
                 kind: str = "image", target: tuple[np.ndarray, float, float] | None = None) -> tuple[dict[str, Path], dict | None]:
    """(`directory/<name>_<mode>.tflite` for each mode, how int8's float ops were chosen or None).

    `representative` inputs calibrate int8 and choose how fp16/int8 kernels round (the first
    ROUNDING_IMAGES); `metadata`: keyword arguments of `kerastl.export.metadata.with_metadata` (None: no
    metadata); `kind`: the model's input, "image" or "waveform" (the input's name; what int8 takes);
    `target`: (the float model's class scores on the verify inputs, the top-1 agreement bound, the tie margin
    of `disagreements`) that int8's float ops are chosen for (`select_int8`, on the representative inputs after the first ROUNDING_IMAGES);
    None, or no such inputs: the first of INT8_BLOCKS."""
    written, chosen = {}, None
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
                if mode != "int8":
                    flatbuffer = converter(graphs[rounding], mode).convert()
                else:
                    calibrated = converter(graphs[rounding], mode, representative).convert()
                    probes = representative[ROUNDING_IMAGES:]
                    if target is None or not len(probes):
                        flatbuffer = quantize_int8(calibrated, INT8_INPUT[kind])
                    else:
                        flatbuffer, chosen = select_int8(calibrated, INT8_INPUT[kind], probes,
                                                         model.predict(probes, batch_size=32, verbose=0), *target)
                        logger.info("  int8: %d downsampling block(s) in float, %.2f disagreements predicted",
                                    chosen["float_blocks"], chosen["expected_disagreements"])
                written[mode].write_bytes(with_metadata(flatbuffer, **metadata) if metadata else flatbuffer)
    return written, chosen


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
