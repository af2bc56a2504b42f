"""int8 agreement of one trained model over several calibration draws, its kernels rounded on N of them.

    .venv/bin/python bench/int8_draws.py RUN DATA [--draws 5] [--rounding-images 32 100] [--result int8_draws]

RUN: a `kerastl train` run directory (its model.keras), DATA: the image folder it trained on. Draw d takes
100 training images at random (seed d): they calibrate int8, as an export's 100 do, and the first N of them
round the kernels (kerastl's one-pass rounding, `int8_rounded`; kerastl ships N = `tflite.ROUNDING_IMAGES`).
Each file is converted as kerastl ships int8 and scored on the held-out photos against the Keras model.
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--rounding-images", type=int, nargs="+", default=[tflite.ROUNDING_IMAGES, CALIBRATION])
    parser.add_argument("--result", default="int8_draws")
    args = parser.parse_args()
    if args.draws < 1 or not all(1 <= n <= CALIBRATION for n in args.rounding_images):
        parser.error(f"--draws must be >= 1 and --rounding-images between 1 and {CALIBRATION}")
    model = keras.models.load_model(args.run / "model.keras")
    train, held_out, labels, reference = int8_data(model, args.data)
    rows = {n: [] for n in args.rounding_images}
    with tempfile.TemporaryDirectory() as scratch:
        for draw in range(args.draws):
            calibration = train[np.random.default_rng(draw).choice(len(train), CALIBRATION, replace=False)]
            for n in args.rounding_images:
                start = time.perf_counter()
                rounded = int8_rounded(model, calibration[:n])
                seconds = round(time.perf_counter() - start, 1)
                graph = f"{scratch}/{draw}_{n}"
                tflite._save_graph(rounded, graph)
                Path(f"{graph}.tflite").write_bytes(tflite.convert_int8(graph, calibration))
                rows[n].append({"draw": draw, **scores(Path(f"{graph}.tflite"), held_out, reference),
                                "rounding_seconds": seconds})
                print(n, rows[n][-1], flush=True)
    write_result(args.result, {"model": str(args.run), "held_out": len(held_out),
                               "keras_accuracy": float((reference.argmax(-1) == labels).mean()),
                               "rows": {str(n): r for n, r in rows.items()}},
                 command=" ".join(["python bench/int8_draws.py", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
