"""Batch-1 LiteRT latency of one trained model's fp32 and int8 files, the files timed in turn.

    .venv/bin/python bench/int8_latency.py RUN DATA [--rounds 10] [--per-round 100] [--result int8_latency]

RUN: a `kerastl train` run directory (its model.keras), DATA: the image folder it trained on. Its first
100 training images calibrate int8 and the first 32 round the kernels, as an export does. Files: fp32; int8
with one downsampling block in float (`select_int8`'s first rule, `tflite.float_ops`: the normalisation,
stem stage, first downsampling block and head in float); the same through the second, third and fourth
downsampling blocks (`float_ops(blocks=2)`, 3 and 4: what `select_int8` takes where it predicts a miss);
int8 with the normalisation and stem stage alone in float (`float_ops(blocks=0, head=False)`, kerastl's
rule before).
Each round calls every file `--per-round` times on one held-out photo, one file after the other, so a
change of the machine's speed reaches all files alike. Reported: each file's p50 over all its calls, its
speed-up over fp32 from those p50s, the lowest and highest speed-up of a single round (its p50s alone), and
each file's fastest call and the speed-up between fastest calls (the least disturbed by other work).
Latency depends on the graph, not on the weights: models of the same backbone and input size time alike.
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import int8_data, int8_files, write_result  # noqa: E402

import keras  # noqa: E402

from kerastl.export import runners, tflite  # noqa: E402

CALIBRATION = 100  # images, as an export calibrates on
# variant -> keyword arguments of tflite.quantize_int8
INT8 = {"int8, one downsampling block in float (select_int8's first rule: normalisation, stem stage, first "
        "downsampling block and head in float)": {},
        "int8, two downsampling blocks in float (select_int8's next rule)": {"blocks": 2},
        "int8, three downsampling blocks in float": {"blocks": 3},
        "int8, four downsampling blocks in float (select_int8's last rule)": {"blocks": 4},
        "int8, normalisation and stem stage alone in float (kerastl's rule before)": {"blocks": 0, "head": False}}


def interleaved_ms(runs: dict, x, rounds: int, per_round: int) -> dict[str, list[list[float]]]:
    """{file: its call times in ms, per round}: each round calls every file `per_round` times, in turn."""
    for run in runs.values():
        run(x)  # warm-up (tensor allocation)
    times = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            calls = []
            for _ in range(per_round):
                start = time.perf_counter()
                run(x)
                calls.append(1000 * (time.perf_counter() - start))
            times[name].append(calls)
    return times


def p50(times: dict[str, list[list[float]]]) -> dict[str, float]:
    """{file: the median of all its calls} of `interleaved_ms`'s times."""
    return {name: median(ms for calls in rounds for ms in calls) for name, rounds in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--per-round", type=int, default=100)
    parser.add_argument("--result", default="int8_latency")
    args = parser.parse_args()
    if args.rounds < 1 or args.per_round < 1:
        parser.error("--rounds and --per-round must be >= 1")
    model = keras.models.load_model(args.run / "model.keras")
    train, held_out, _, _ = int8_data(model, args.data)
    calibration = train[:CALIBRATION]
    with tempfile.TemporaryDirectory() as scratch:
        files = {"fp32": Path(scratch) / "fp32.tflite"}
        tflite._save_graph(model, f"{scratch}/float")
        files["fp32"].write_bytes(tflite.converter(f"{scratch}/float", "fp32").convert())
        files.update(int8_files(model, calibration, Path(scratch), INT8))
        times = interleaved_ms({name: runners.tflite(path) for name, path in files.items()}, held_out[:1],
                               args.rounds, args.per_round)
    medians = p50(times)
    fastest = {name: min(ms for calls in rounds for ms in calls) for name, rounds in times.items()}
    per_round = {name: [median(f) / median(v) for f, v in zip(times["fp32"], rounds)] for name, rounds in times.items()}
    rows = {name: {"p50_ms_b1": round(medians[name], 3), "speedup_vs_fp32": round(medians["fp32"] / medians[name], 2),
                   "round_speedup_min": round(min(per_round[name]), 2),
                   "round_speedup_max": round(max(per_round[name]), 2), "fastest_ms_b1": round(fastest[name], 3),
                   "fastest_speedup_vs_fp32": round(fastest["fp32"] / fastest[name], 2)} for name in files}
    for name, row in rows.items():
        print(name, row, flush=True)
    write_result(args.result, {"model": str(args.run), "rounds": args.rounds, "calls_per_round": args.per_round,
                               "rows": rows},
                 command=" ".join(["python bench/int8_latency.py", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
