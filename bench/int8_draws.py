"""int8 agreement of one trained model over several calibration draws, by rule and by kerastl's choice.

    .venv/bin/python bench/int8_draws.py RUN DATA [--draws 5] [--rounding-images 32 100]
                                         [--rules selected] [--result int8_draws]

RUN: a `kerastl train` run directory (its model.keras), DATA: the image folder it trained on. Draw d takes
100 training images at random (seed d): they calibrate int8, as an export's 100 do, and the first N of them
round the kernels (kerastl's one-pass rounding, `int8_rounded`; kerastl ships N = `tflite.ROUNDING_IMAGES`).
Each calibrated file is quantised by each of `--rules` (keyword arguments of `tflite.quantize_int8`):
"one_block" (`float_ops`: the normalisation, stem stage and first downsampling block in float, and the
head), "two_blocks" / "three_blocks" / "four_blocks" (the same through the second, third, fourth
downsampling block; on Lite0 through block 3a, 4a, 6a), "first_block" (one block, head in
int8), "stem" (the normalisation and stem stage alone in float, head in int8); and "selected" is the file
kerastl's export writes: `tflite.select_int8` choosing among INT8_BLOCKS with the draw's other training
images as probes (the ones after the first N) and the held-out photos' Keras outputs as the reference,
bound 0.99; its rows record the choice and each rule's predicted disagreements. Every file is scored on
the held-out photos against the Keras model.
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
BOUND = 0.99  # the export's tflite_int8 bound
# rule -> (row label, keyword arguments of tflite.quantize_int8); "selected": kerastl's choice (select_int8)
RULES = {"one_block": (", first downsampling block and head in float", {"blocks": 1}),
         "two_blocks": (", two downsampling blocks and head in float", {"blocks": 2}),
         "three_blocks": (", three downsampling blocks and head in float", {"blocks": 3}),
         "four_blocks": (", four downsampling blocks and head in float", {"blocks": 4}),
         "first_block": (", first downsampling block in float, head in int8", {"head": False}),
         "stem": (", stem stage alone in float", {"blocks": 0, "head": False}),
         "selected": (", chosen by select_int8 (shipped)", None)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--rounding-images", type=int, nargs="+", default=[tflite.ROUNDING_IMAGES, CALIBRATION])
    parser.add_argument("--rules", nargs="+", choices=tuple(RULES), default=["selected"])
    parser.add_argument("--result", default="int8_draws")
    args = parser.parse_args()
    if args.draws < 1 or not all(1 <= n <= CALIBRATION for n in args.rounding_images):
        parser.error(f"--draws must be >= 1 and --rounding-images between 1 and {CALIBRATION}")
    if "selected" in args.rules and max(args.rounding_images) >= CALIBRATION:
        parser.error(f"--rules selected needs probes: --rounding-images below {CALIBRATION}")
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
                    extra = {}
                    if rule_options is None:
                        probes = calibration[n:]
                        flatbuffer, extra = tflite.select_int8(calibrated, tflite.INT8_INPUT["image"], probes,
                                                               model.predict(probes, verbose=0), reference, BOUND)
                    else:
                        flatbuffer = tflite.quantize_int8(calibrated, **rule_options)
                    Path(f"{graph}.tflite").write_bytes(flatbuffer)
                    rows[f"{n}{label}"].append({"draw": draw, **scores(Path(f"{graph}.tflite"), held_out, reference),
                                                "rounding_seconds": seconds, **extra})
                    print(n, rule, rows[f"{n}{label}"][-1], flush=True)
    write_result(args.result, {"model": str(args.run), "held_out": len(held_out),
                               "keras_accuracy": float((reference.argmax(-1) == labels).mean()),
                               "rows": rows},
                 command=" ".join(["python bench/int8_draws.py", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
