"""Does keeping single int8 layers in float buy agreement more cheaply than whole downsampling blocks?

    .venv/bin/python bench/int8_layers.py RUN DATA [--draws 5] [--result int8_layers]

RUN: a `kerastl train` run directory (its model.keras), DATA: the image folder it trained on. Draw d takes
100 training images at random (seed d), as `bench/int8_draws.py`: all calibrate int8, the first
`tflite.ROUNDING_IMAGES` round the kernels, the others are the probes of `select_int8`'s prediction
(expected disagreements on the held-out photos, from their Keras outputs). Files per draw, all from one
calibration:
- "N blocks": `tflite.quantize_int8(blocks=N)`, N = 1..4 (`select_int8`'s rules);
- one per layer with weights (convolution or classifier) that one block leaves in int8: the one-block rule
  plus that layer in float. Its gain is the one-block file's predicted disagreements minus its own;
- "by gain per byte": the layers with a positive gain added to the one-block rule in order of gain per
  byte they add to the file (measured on its per-layer file), predicting again after each. It stops when
  the prediction meets the bound (0.99) with P >= SURE (0.95: `select_int8`'s rule when this bench was run,
  before it took the predicted agreement instead), when no layer with a positive gain is
  left, or before the file would be larger than the four-block one; the last file is recorded.
Every file but the per-layer ones is scored on the held-out photos against Keras. Also recorded: where
the last draw's one-block file's bytes go (int8 kernels, float tensors, int32 biases, quantisation
parameters).
"""
import argparse
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import int8_data, write_result  # noqa: E402

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.lite.python import schema_py_generated as schema  # noqa: E402

from kerastl.export import runners, tflite  # noqa: E402
from kerastl.export.rounding import int8_rounded  # noqa: E402

CALIBRATION, BOUND = 100, 0.99
SURE = 0.95  # the greedy loop stops at this probability of meeting BOUND on the held-out photos


def layers(flatbuffer: bytes) -> list[tuple[str, str, int]]:
    """(op name, short label, kernel weights) of each layer with weights of a TFLite flatbuffer."""
    graph, ops = tflite.operators(flatbuffer)
    found = []
    for code, op in ops:
        if code in tflite.WEIGHTED:
            name = graph.Tensors(op.Outputs(0)).Name().decode()
            label = re.search(r"/(\w+?conv)_\d+/", name)  # e.g. block4a_dwconv, block4a_project_conv
            found.append((name, label.group(1) if label else name, int(np.prod(graph.Tensors(op.Inputs(1)).ShapeAsNumpy()))))
    return found


def bytes_by_kind(flatbuffer: bytes) -> dict[str, int]:
    """The flatbuffer's bytes: constant tensors by type (each buffer once), every tensor's quantisation
    parameters (a kernel's and a bias's per channel, an activation's one), and the rest."""
    model = schema.Model.GetRootAsModel(flatbuffer, 0)
    graph = model.Subgraphs(0)
    kinds = {schema.TensorType.INT8: "int8 tensors", schema.TensorType.FLOAT32: "float32 tensors",
             schema.TensorType.INT32: "int32 tensors (biases)"}
    found = dict.fromkeys([*kinds.values(), "quantisation parameters (scales, zero points)"], 0)
    seen = set()
    for i in range(graph.TensorsLength()):
        tensor = graph.Tensors(i)
        buffer = model.Buffers(tensor.Buffer())
        if buffer is not None and buffer.DataLength() and tensor.Buffer() not in seen:
            seen.add(tensor.Buffer())
            kind = kinds.get(tensor.Type(), "other tensors")
            found[kind] = found.get(kind, 0) + buffer.DataLength()
        q = tensor.Quantization()
        if q is not None:
            found["quantisation parameters (scales, zero points)"] += (4 * (q.ScaleLength() + q.MinLength() + q.MaxLength())
                                                                     + 8 * q.ZeroPointLength())
    found["rest (graph, names, metadata)"] = len(flatbuffer) - sum(found.values())
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--result", default="int8_layers")
    args = parser.parse_args()
    if args.draws < 1:
        parser.error("--draws must be >= 1")
    model = keras.models.load_model(args.run / "model.keras")
    train, held_out, _, reference = int8_data(model, args.data)
    draws = []
    with tempfile.TemporaryDirectory() as scratch:
        tflite._save_graph(model, f"{scratch}/float")
        fp32_bytes = len(tflite.converter(f"{scratch}/float", "fp32").convert())
        for draw in range(args.draws):
            calibration = train[np.random.default_rng(draw).choice(len(train), CALIBRATION, replace=False)]
            tflite._save_graph(int8_rounded(model, calibration[:tflite.ROUNDING_IMAGES]), f"{scratch}/{draw}")
            calibrated = tflite.converter(f"{scratch}/{draw}", "int8", calibration).convert()
            probes = calibration[tflite.ROUNDING_IMAGES:]
            probe_outputs = model.predict(probes, verbose=0)

            def predicted(float_names: list[str]) -> tuple[bytes, float, float]:
                flatbuffer = tflite._quantize(calibrated, tf.uint8, float_names)
                return flatbuffer, *tflite.predicted_agreement(flatbuffer, probes, probe_outputs, reference, BOUND)

            def row(flatbuffer: bytes, expected: float, meets: float) -> dict:
                outputs = runners.tflite(flatbuffer)(held_out)
                return {"expected_disagreements": round(expected, 3), "p_meets_bound": round(meets, 4),
                        "size_vs_fp32": round(len(flatbuffer) / fp32_bytes, 4),
                        "top1_agreement": float((outputs.argmax(-1) == reference.argmax(-1)).mean())}

            rules = {f"{blocks} blocks": tflite.float_ops(calibrated, blocks) for blocks in tflite.INT8_BLOCKS}
            files = {rule: predicted(names) for rule, names in rules.items()}  # rule -> (flatbuffer, prediction, P)
            rows = {rule: row(*file) for rule, file in files.items()}
            one_block, (base_file, base, _) = rules["1 blocks"], files["1 blocks"]
            gains = []  # (op name, label, kernel weights, predicted gain, bytes added)
            for name, label, weights in layers(calibrated):
                if name not in one_block:
                    flatbuffer, expected, _ = predicted(one_block + [name])
                    gains.append((name, label, weights, base - expected, max(len(flatbuffer) - len(base_file), 1)))
            kept, added = list(one_block), []
            rows["by gain per byte"] = {**rows["1 blocks"], "layers_added": []}
            for name, label, _, gain, size in sorted(gains, key=lambda g: -g[3] / g[4]):
                if gain <= 0 or rows["by gain per byte"]["p_meets_bound"] >= SURE:
                    break
                flatbuffer, expected, meets = predicted(kept + [name])
                if len(flatbuffer) / fp32_bytes > rows["4 blocks"]["size_vs_fp32"]:
                    break
                kept.append(name)
                added.append(label)
                rows["by gain per byte"] = {**row(flatbuffer, expected, meets), "layers_added": list(added)}
                print(draw, label, rows["by gain per byte"], flush=True)
            draws.append({"draw": draw, "rows": rows,
                          "layer_gains": [{"layer": label, "kernel_weights": weights, "gain": round(gain, 3),
                                           "bytes_added": size} for _, label, weights, gain, size in gains]})
            print(draw, rows, flush=True)
        write_result(args.result, {"model": str(args.run), "held_out": len(held_out), "fp32_bytes": fp32_bytes,
                                   "one_block_bytes": bytes_by_kind(base_file),
                                   "draws": draws},
                     command=" ".join(["python bench/int8_layers.py", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
