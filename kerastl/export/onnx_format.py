"""ONNX through tf2onnx: one input (`image` or `waveform`) with a dynamic batch, one output named `key`.

(Not named onnx.py: that would shadow the onnx package inside tf2onnx.)
"""
from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

OPSET = 17


def write_onnx(model: keras.Model, path: Path, key: str, *, kind: str = "image", opset: int = OPSET) -> None:
    import onnx
    import tf2onnx
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    spec = tf.TensorSpec([None, *model.inputs[0].shape[1:]], tf.float32, name=kind)
    function = tf.function(lambda image: tf.cast(model(image, training=False), tf.float32))
    # Freeze first, then name the one real input: tf2onnx's from_function/from_keras treat every captured
    # non-variable tensor (e.g. a Normalization layer's mean and variance) as an extra graph input.
    frozen = convert_variables_to_constants_v2(function.get_concrete_function(spec))
    (source,), (output,) = frozen.inputs, frozen.outputs
    proto, _ = tf2onnx.convert.from_graph_def(frozen.graph.as_graph_def(), input_names=[source.name],
                                              output_names=[output.name], opset=opset)
    _rename(proto.graph, {source.name: kind, output.name: key})
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))


def _rename(graph, names: dict[str, str]) -> None:
    for value in [*graph.input, *graph.output]:
        value.name = names.get(value.name, value.name)
    for node in graph.node:
        node.input[:] = [names.get(n, n) for n in node.input]
        node.output[:] = [names.get(n, n) for n in node.output]
