"""SavedModel export of the KerasHub-based tasks, verified in a fresh process like the image tasks.

- detection: `serving_default(image: float32 (1, H, W, 3))` -> boxes (1, 100, 4) yxyx pixels, labels,
  confidence, num_detections (non-max suppression inside; KerasHub's NMS needs a static batch of 1);
  `raw(image: float32 (batch, H, W, 3))` -> cls_logits, bbox_regression per anchor. Verification
  compares `raw`'s class probabilities (NMS breaks ties between equal scores differently in graph and eager mode).
- text classification: `serving_default(text: string (batch,))` -> probabilities, class_id (the
  tokenizer is inside; loading needs `import tensorflow_text`).
TFLite and ONNX of these (NMS, tokenizer ops) are not supported: asking for them is an error.
"""
from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from kerastl.errors import InvalidArgumentError
from kerastl.heads import task_of
from kerastl.io import atomic_dir

def _endpoint(model: keras.Model, task: str):
    if task == "detection":
        height, width = model.inputs[0].shape[1:3]

        def detect(image):
            return model.decode_predictions(model(image, training=False), image)

        return detect, tf.TensorSpec([1, height, width, 3], tf.float32, name="image"), "raw:cls_logits"

    def classify(text):
        probabilities = tf.cast(model(model.preprocessor(text), training=False), tf.float32)
        return {"probabilities": probabilities, "class_id": tf.argmax(probabilities, -1, output_type=tf.int32)}

    return classify, tf.TensorSpec([None], tf.string, name="text"), "probabilities"


def export_saved_model(model: keras.Model, out_dir: str | os.PathLike, formats: tuple[str, ...], *, name: str,
                       version: int, verify_data, threshold: tuple[str, float], strict: bool) -> dict:
    """Write `<out_dir>/<name>/<version>/` (SavedModel + export_report.json); `verify_data`: images
    (detection) or strings (text) to compare the SavedModel with `model.predict` on; `threshold`:
    (measure, bound) on the probabilities (detection: max_abs_diff only)."""
    from kerastl.export import agreements, finish, passes, run_fresh

    task = task_of(model)
    measure, bound = threshold
    if task == "detection" and measure != "max_abs_diff":
        raise InvalidArgumentError(f"detection exports are checked on max_abs_diff (anchor probabilities), not {measure}")
    if tuple(formats) != ("saved_model",):
        raise InvalidArgumentError(f"{task} models export as formats=('saved_model',) only, got {tuple(formats)!r}")
    if verify_data is None:
        raise InvalidArgumentError(f"pass verify_data ({'images' if task == 'detection' else 'strings'}) to check the export")
    inputs = np.asarray(verify_data)[:64]
    inputs = inputs.astype(str if task == "text_classification" else "float32")
    function, spec, key = _endpoint(model, task)
    raw = tf.TensorSpec([None, *spec.shape[1:]], tf.float32, name="image")
    if task == "detection":
        reference = np.asarray(model(inputs, training=False)["cls_logits"])
    else:
        reference = np.asarray(function(tf.constant(inputs))[key])
    with atomic_dir(Path(out_dir) / name / str(version)) as tmp:
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint("serving_default", function, input_signature=[spec])
        if task == "detection":
            archive.add_endpoint("raw", lambda image: model(image, training=False), input_signature=[raw])
        archive.write_out(str(tmp), verbose=False)
        measured = run_fresh(tmp, {"saved_model": "."}, inputs, key)["saved_model"]
        got = np.asarray(measured.pop("outputs"))
        if task == "detection":  # compare anchor class probabilities: logits are unbounded
            got, reference = (0.5 + 0.5 * np.tanh(x / 2) for x in (got, reference))  # sigmoid, no overflow
        row = {"path": ".", "size_bytes": sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file()),
               "max_abs_diff": float(np.abs(got - reference).max()), **agreements(got, reference, task != "detection"),
               **measured,
               "threshold": {measure: bound}}
        row["passed"] = passes(row[measure], measure, bound)
        report = {"name": name, "version": version, "task": task, "inputs": len(inputs), "artefacts": {"saved_model": row}}
        return finish(tmp, report, strict)
