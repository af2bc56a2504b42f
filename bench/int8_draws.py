"""int8 agreement of one trained model over several calibration draws, by rule and by kerastl's choice.

    .venv/bin/python bench/int8_draws.py RUN DATA [--draws 5] [--rounding-images 32 100]
                                         [--rules selected] [--unseen demo|shifted] [--result int8_draws]

RUN: a `kerastl train` run directory (its model.keras), DATA: the image folder it trained on. Draw d takes
100 training images at random (seed d): they calibrate int8, as an export's 100 do, and the first N of them
round the kernels (kerastl's one-pass rounding, `int8_rounded`; kerastl ships N = `tflite.ROUNDING_IMAGES`).
Each calibrated file is quantised by each of `--rules` (keyword arguments of `tflite.quantize_int8`):
"one_block" (`float_ops`: the normalisation, stem stage and first downsampling block in float, and the
head), "two_blocks" / "three_blocks" / "four_blocks" (the same through the second, third, fourth
downsampling block; on Lite0 through block 3a, 4a, 6a), "first_block" (one block, head in
int8), "stem" (the normalisation and stem stage alone in float, head in int8); and "selected" is
`tflite.select_int8` choosing among INT8_BLOCKS with the draw's other training images as probes (the ones
after the first N) and the held-out photos' Keras outputs as the reference, bound 0.99 on the plain top-1
agreement: the file kerastl's export wrote until 2026-12-07 (the export now excuses ties, `tflite.NEAR_TIE`,
as the committed results of this bench do not); its rows record the choice and each rule's predicted
disagreements. Every file is scored on
the held-out photos against the Keras model; with `--unseen demo|shifted` (the data set of `bench/mobile.py`
that RUN trained on), also on every sign-digit photo that data set does not use (`mobile.unseen_photos`:
1362 more), which measures each file's agreement about 2.6 times more tightly than 200 photos do, and
compares select_int8's prediction (`unseen_predicted_disagreements`) with the disagreements seen there.
Also recorded: how many photos of each set the Keras model nearly ties on (`near_ties`: top two log scores
within 0.05), which any quantisation noise flips about as often as not.
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
from mobile import unseen_photos  # noqa: E402

import keras  # noqa: E402

from kerastl.data import load_images  # noqa: E402
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


def near_ties(outputs: np.ndarray, margin: float = tflite.NEAR_TIE) -> int:
    """How many of the Keras outputs (class scores) have their top two log scores within `margin`."""
    top = np.sort(tflite._log(outputs), -1)
    return int((top[:, -1] - top[:, -2] < margin).sum())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--rounding-images", type=int, nargs="+", default=[tflite.ROUNDING_IMAGES, CALIBRATION])
    parser.add_argument("--rules", nargs="+", choices=tuple(RULES), default=["selected"])
    parser.add_argument("--unseen", choices=("demo", "shifted"),
                        help="also score on the sign-digit photos this data set of bench/mobile.py does not use")
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
        if args.unseen:
            unseen_images, unseen_labels = load_images(unseen_photos(args.unseen, Path(scratch)), model.inputs[0].shape[1])
            unseen_reference = model.predict(unseen_images, verbose=0, batch_size=32)
        for draw in range(args.draws):
            calibration = train[np.random.default_rng(draw).choice(len(train), CALIBRATION, replace=False)]
            for n in args.rounding_images:
                start = time.perf_counter()
                rounded = int8_rounded(model, calibration[:n])
                seconds = round(time.perf_counter() - start, 1)
                graph = f"{scratch}/{draw}_{n}"
                tflite._save_graph(rounded, graph)
                calibrated = tflite.converter(graph, "int8", calibration).convert()
                probes = calibration[n:]  # select_int8's: the calibration images that rounded no kernel
                probe_outputs = model.predict(probes, verbose=0) if len(probes) else None
                for rule in args.rules:
                    label, rule_options = RULES[rule]
                    extra = {}
                    if rule_options is None:
                        flatbuffer, extra = tflite.select_int8(calibrated, tflite.INT8_INPUT["image"], probes,
                                                               probe_outputs, reference, BOUND)
                    else:
                        flatbuffer = tflite.quantize_int8(calibrated, **rule_options)
                    path = Path(f"{graph}.tflite")
                    path.write_bytes(flatbuffer)
                    more = {}
                    if args.unseen:
                        more = {"unseen_" + k: v for k, v in scores(path, unseen_images, unseen_reference).items()
                                if k in ("top1_agreement", "mean_squared_diff")}
                        if len(probes):  # what select_int8's prediction says of the unseen photos
                            more["unseen_predicted_disagreements"] = round(tflite.predicted_agreement(
                                flatbuffer, probes, probe_outputs, unseen_reference, BOUND)[0], 2)
                    rows[f"{n}{label}"].append({"draw": draw, **scores(path, held_out, reference), **more,
                                                "rounding_seconds": seconds, **extra})
                    print(n, rule, rows[f"{n}{label}"][-1], flush=True)
    write_result(args.result, {"model": str(args.run), "held_out": len(held_out),
                               "keras_accuracy": float((reference.argmax(-1) == labels).mean()),
                               "near_ties": near_ties(reference),
                               **({"unseen": len(unseen_labels), "unseen_near_ties": near_ties(unseen_reference),
                                   "keras_unseen_accuracy": float((unseen_reference.argmax(-1) == unseen_labels).mean())}
                                  if args.unseen else {}),
                               "rows": rows},
                 command=" ".join(["python bench/int8_draws.py", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
