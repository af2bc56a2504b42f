"""int8 agreement of one trained model over several calibration draws, its kernels rounded on N of them.

    .venv/bin/python bench/int8_draws.py RUN DATA [--draws 5] [--rounding-images 32 100]
                                         [--rules shipped] [--result int8_draws]

RUN: a `kerastl train` run directory (its model.keras), DATA: the image folder it trained on. Draw d takes
100 training images at random (seed d): they calibrate int8, as an export's 100 do, and the first N of them
round the kernels (kerastl's one-pass rounding, `int8_rounded`; kerastl ships N = `tflite.ROUNDING_IMAGES`).
Each calibrated file is quantised by each of `--rules`: "shipped" (`tflite.float_ops`: the normalisation,
stem stage and first downsampling block in float, and the head), "first_block" (the same with the head in
int8, `float_ops(head=False)`) and "stem" (`float_ops(first_block=False, head=False)`: the normalisation and
stem stage alone in float, kerastl's rule before), and scored on the held-out photos against the Keras model.
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import int8_data, write_result  # noqa: E402
from int8_distill import scores  # noqa: E402

import keras  # noqa: E402

from kerastl.export import tflite  # noqa: E402
from kerastl.export.rounding import int8_rounded  # noqa: E402

CALIBRATION = 100  # images, as an export calibrates on
# rule -> (row label, keyword arguments of tflite.float_ops)
RULES = {"shipped": (", first ops and head in float (shipped)", {}),
         "first_block": (", first ops in float, head in int8", {"head": False}),
         "stem": (", stem stage alone in float", {"first_block": False, "head": False})}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--rounding-images", type=int, nargs="+", default=[tflite.ROUNDING_IMAGES, CALIBRATION])
    parser.add_argument("--rules", nargs="+", choices=tuple(RULES), default=["shipped"])
    parser.add_argument("--result", default="int8_draws")
    args = parser.parse_args()
    if args.draws < 1 or not all(1 <= n <= CALIBRATION for n in args.rounding_images):
        parser.error(f"--draws must be >= 1 and --rounding-images between 1 and {CALIBRATION}")
    model = keras.models.load_model(args.run / "model.keras")
    train, held_out, labels, reference = int8_data(model, args.data)
    rows = {f"{n}{RULES[rule][0]}": [] for n in args.rounding_images for rule in args.rules}
    with tempfile.TemporaryDirectory() as scratch:
        for draw in range(args.draws):
            calibration = train[np.random.default_rng(draw).choice(len(train), CALIBRATION, replace=False)]
            for n in args.rounding_images:
                start = time.perf_counter()
                rounded = int8_rounded(model, calibration[:n])
                seconds = round(time.perf_counter() - start, 1)
                graph = f"{scratch}/{draw}_{n}"
                tflite._save_graph(rounded, graph)
                calibrated = tflite.converter(graph, "int8", calibration).convert()
                for rule in args.rules:
                    label, rule_options = RULES[rule]
                    float_names = tflite.float_ops(calibrated, **rule_options)
                    Path(f"{graph}.tflite").write_bytes(tflite.quantize_int8(calibrated, float_names=float_names))
                    rows[f"{n}{label}"].append({"draw": draw, **scores(Path(f"{graph}.tflite"), held_out, reference),
                                                "rounding_seconds": seconds})
                    print(n, rule, rows[f"{n}{label}"][-1], flush=True)
    write_result(args.result, {"model": str(args.run), "held_out": len(held_out),
                               "keras_accuracy": float((reference.argmax(-1) == labels).mean()),
                               "rows": rows},
                 command=" ".join(["python bench/int8_draws.py", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
