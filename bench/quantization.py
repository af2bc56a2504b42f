"""Where TFLite quantisation of the demo model loses agreement with Keras: post-training variants side by side.

    .venv/bin/python bench/quantization.py

Trains the demo model with the plain two-phase recipe (`common.PLAIN_TWO_PHASE`; Lite0 fine-tuned on sign
digits, 224 px), then converts it to TFLite in the
modes `kerastl.export` writes and in diagnostic variants, each compared with Keras on the 200 held-out
photos: more calibration images; float fallback for the layers the TFLite QuantizationDebugger ranks
worst; 16-bit activations (TFLite's 16x8 mode); and weights rounded to the int8 per-channel grid
beforehand ("snapped": the Keras model then holds exactly the weights int8 can represent, which
isolates the activation error; its own held-out accuracy is reported, since snapping changes it);
and after a quantisation-aware fine-tune (`bench/qat.py`: 2 epochs at lr 1e-5 under int8 weight and
activation noise, ending with the weights on the int8 grid).
"""
import csv
import io
import sys
import tempfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEMO_MODEL, demo_model, write_result  # noqa: E402
from qat import quantization_aware_finetune, snap_to_int8_grid  # noqa: E402

from kerastl.export import runners, tflite  # noqa: E402
from kerastl.export.fresh_process import predict  # noqa: E402


def converter(saved_model: str, mode: str, calibration: np.ndarray | None = None) -> tf.lite.TFLiteConverter:
    """kerastl's converter for `mode`, plus "int16x8": int8 calibration with 16-bit activations; int8 here
    is TFLite's plain full-integer conversion (float input, every op quantised)."""
    conv = tflite.converter(saved_model, "int8" if mode == "int16x8" else mode, calibration)
    conv._experimental_calibrate_only = False  # kerastl's own int8 finishes in `tflite.quantize_int8`
    if mode == "int16x8":
        conv.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    return conv


def worst_layers(saved_model: str, calibration: np.ndarray, k: int) -> list[str]:
    """The k int8 tensors with the largest RMSE (in quantisation steps) per the QuantizationDebugger."""
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter(saved_model, "int8", calibration), debug_dataset=lambda: ([i[None]] for i in calibration[:30]))
    debugger.run()
    dump = io.StringIO()
    debugger.layer_statistics_dump(dump)
    dump.seek(0)
    rows = list(csv.DictReader(dump))
    rows.sort(key=lambda r: -np.sqrt(float(r["mean_squared_error"])) / float(r["scale"]))
    return [r["tensor_name"] for r in rows[:k]]


def with_float_fallback(saved_model: str, calibration: np.ndarray, nodes: list[str]) -> bytes:
    options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=nodes)
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter(saved_model, "int8", calibration), debug_dataset=lambda: ([i[None]] for i in calibration[:5]),
        debug_options=options)
    return debugger.get_nondebug_quantized_model()


def measure(content: bytes, scratch: Path, reference: np.ndarray, images: np.ndarray, fp32_size: int) -> dict:
    path = scratch / "variant.tflite"
    path.write_bytes(content)
    got, _ = predict(runners.tflite(path), images)
    return {"size_vs_fp32": round(len(content) / fp32_size, 3), "max_abs_diff": round(float(np.abs(got - reference).max()), 4),
            "top1_agreement": round(float((got.argmax(-1) == reference.argmax(-1)).mean()), 4)}


def variants(model: keras.Model, train: np.ndarray, held_out: np.ndarray, scratch: Path) -> dict[str, bytes]:
    scratch.mkdir(parents=True, exist_ok=True)
    saved = str(scratch / "saved_model")
    model.export(saved, format="tf_saved_model", verbose=False)
    calibration = train[:100]
    out = {mode: converter(saved, mode, calibration).convert() for mode in ("fp32", "fp16", "dynamic", "int8", "int16x8")}
    out["int8, all training images calibrate"] = converter(saved, "int8", train).convert()
    for k in (2, 12):
        out[f"int8, float fallback for the {k} worst layers"] = with_float_fallback(saved, calibration, worst_layers(saved, calibration, k))
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        _, data = demo_model(scratch)
        train = np.concatenate([x.numpy() for x, _ in data.train])
        held_out, labels = (np.concatenate(parts) for parts in zip(*((x.numpy(), y.numpy()) for x, y in data.val)))
        rows, accuracy = {}, {}
        for weights in ("trained", "snapped to the int8 grid", "quantisation-aware fine-tuned"):
            model = keras.models.load_model(scratch / "demo" / "model.keras")
            if weights.startswith("snapped"):
                snap_to_int8_grid(model)
            elif weights.startswith("quantisation"):
                print("quantisation-aware fine-tune:", quantization_aware_finetune(model, data.train, train[:100], epochs=2))
            reference = model.predict(held_out, batch_size=32, verbose=0)
            accuracy[weights] = round(float((reference.argmax(-1) == labels).mean()), 4)
            converted = variants(model, train, held_out, scratch / weights.split()[0])
            fp32_size = len(converted["fp32"])
            for name, content in converted.items():
                rows[f"{name} ({weights} weights)"] = measure(content, scratch, reference, held_out, fp32_size)
                print(name, weights, rows[f"{name} ({weights} weights)"], flush=True)
    write_result("quantization", {"model": DEMO_MODEL,
                                  "held_out": len(held_out), "keras_accuracy": accuracy, "rows": rows},
                 command="python bench/quantization.py")


if __name__ == "__main__":
    main()
