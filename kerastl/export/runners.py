"""Load an exported artefact with its own runtime -> a function from float32 pixels to the model output
(named `key` in SavedModel signatures and ONNX: "probabilities", "values" or "embedding")."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np

Runner = Callable[[np.ndarray], np.ndarray]
INPUTS = "inputs.json"  # beside the inputs: their kind, sample rate, files for fresh_process to run in MediaPipe


def saved_model(path: Path, key: str, signature: str = "serving_default", loaded=None) -> Runner:
    """`key` "SIGNATURE:OUTPUT" picks another signature (the detector's `raw`); `loaded`: the SavedModel
    at `path` if already loaded."""
    import tensorflow as tf

    if ":" in key:
        signature, key = key.split(":")
    try:
        import tensorflow_text  # noqa: F401  (registers the tokenizer ops of text models)
    except ImportError:
        pass
    function = (loaded or tf.saved_model.load(str(path))).signatures[signature]
    name = next(iter(function.structured_input_signature[1]))
    return lambda x: function(**{name: tf.constant(x)})[key].numpy()


def tflite(model: Path | bytes, key: str = "") -> Runner:
    """`model`: a .tflite file, or its flatbuffer (bytes)."""
    from ai_edge_litert.interpreter import Interpreter

    source = {"model_content": model} if isinstance(model, bytes) else {"model_path": str(model)}
    interpreter = Interpreter(**source, num_threads=os.cpu_count())  # as onnxruntime does
    source, target = interpreter.get_input_details()[0], interpreter.get_output_details()[0]

    def run(x: np.ndarray) -> np.ndarray:
        if interpreter.get_input_details()[0]["shape"][0] != len(x):
            interpreter.resize_tensor_input(source["index"], [len(x), *x.shape[1:]])
            interpreter.allocate_tensors()
        if source["dtype"] == np.uint8:
            x = np.clip(np.round(x), 0, 255)
        interpreter.set_tensor(source["index"], x.astype(source["dtype"]))
        interpreter.invoke()
        return interpreter.get_tensor(target["index"]).copy()

    interpreter.allocate_tensors()
    return run


def onnx(path: Path, key: str) -> Runner:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = session.get_inputs()
    if len(inputs) != 1:  # the Normalization-constants-as-inputs trap
        raise ValueError(f"{path} has {len(inputs)} inputs {[i.name for i in inputs]}; expected one image input")
    return lambda x: session.run([key], {inputs[0].name: x.astype("float32")})[0]


def load(artefact: str, path: Path, key: str) -> Runner:
    """`artefact`: "saved_model", "onnx" or "tflite_<mode>"."""
    kind = "tflite" if artefact.startswith("tflite") else artefact
    return {"saved_model": saved_model, "tflite": tflite, "onnx": onnx}[kind](path, key)
