"""Where a trained model's int8 noise comes from: each 8-bit activation tensor's share of the logit error.

    .venv/bin/python bench/int8_noise.py runs/demo [--float-stem] [--result int8_noise]

runs/demo: a `kerastl train` run on kerastl's demo data. `--float-stem`: the stem stage stays float
(`qat.with_fake_quant(float_stem=True)`, the int8 rule before kerastl kept the first downsampling block
in float too), so the shares are those of the tensors that rule rounded.

Simulation in Keras (`bench/qat.py`'s FakeQuant wherever TFLite keeps an int8 tensor, ranges from the same
100 calibration images as the export), float weights, so only activation rounding counts. Per tensor,
only its own FakeQuant is on; the score is the mean squared error of the centred log-probabilities
against the float model on the held-out photos (a diagnostic: nothing is chosen on it), and the top-1
agreement. The shares add up to about the error with every tensor rounded at once (also printed).
"""
import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import int8_data, write_result  # noqa: E402
from qat import calibrated_fake_quant  # noqa: E402

import keras  # noqa: E402

from kerastl import demo  # noqa: E402


def logit_error(model, images: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """(mean squared error of centred log-probabilities, top-1 agreement) of `model` against `reference`."""
    log_p = np.log(np.concatenate([model(images[s:s + 50], training=False).numpy()
                                   for s in range(0, len(images), 50)]) + 1e-12)
    log_r = np.log(reference + 1e-12)
    error = (log_p - log_p.mean(-1, keepdims=True)) - (log_r - log_r.mean(-1, keepdims=True))
    return float((error ** 2).mean()), float((log_p.argmax(-1) == log_r.argmax(-1)).mean())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("--float-stem", action="store_true")
    parser.add_argument("--result", default="int8_noise")
    args = parser.parse_args()
    run = args.run
    model = keras.models.load_model(run / "model.keras")
    train, held_out, _, reference = int8_data(model, demo.DATA, batch_size=50)
    calibration = train[:100]
    simulated, fake_quants = calibrated_fake_quant(model, calibration, float_stem=args.float_stem)
    every, every_agreement = logit_error(simulated, held_out, reference)
    rows = []
    for fq in fake_quants:
        for other in fake_quants:
            other.enabled = other is fq
        error, agreement = logit_error(simulated, held_out, reference)
        rows.append({"tensor": fq.name.removesuffix("_fake_quant"), "range": [round(float(fq.low.numpy()), 2),
                     round(float(fq.high.numpy()), 2)], "logit_mse": round(error, 6), "top1_agreement": agreement})
        print(rows[-1], flush=True)
    singles = sum(r["logit_mse"] for r in rows)
    for r in rows:
        r["share"] = round(r["logit_mse"] / singles, 4)
    write_result(args.result, {"model": str(run), "held_out": len(held_out), "all_tensors": {
        "logit_mse": round(every, 6), "top1_agreement": every_agreement}, "sum_of_single_tensors": round(singles, 6),
        "tensors": rows}, command=" ".join(["python bench/int8_noise.py", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
