"""Which blocks to freeze? Accuracy for freezing none / up to each block / all of EfficientNet-Lite0.

    .venv/bin/python bench/freeze_depth.py [--shots 20] [--size 112] [--seeds 2]

For each seed: one head trained on cached frozen features (phase 1, shared by every row), then,
from that same state, `--epochs` epochs at lr 1e-4 with the backbone frozen up to and including
the row's block (BatchNorm always frozen). "none" trains every block, "top" (everything frozen) trains only the head.
"""
import argparse
import sys
import time

import keras
import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from common import HELD_OUT, accuracy, sign_digits, write_result  # noqa: E402

import kerastl  # noqa: E402
from kerastl.models import compile_task  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shots", type=int, default=20)
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--head-epochs", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    data, xh, yh = sign_digits(args.shots, args.size)
    results: dict[str, dict[str, list]] = {}
    for seed in range(args.seeds):
        keras.utils.set_random_seed(seed)
        model = kerastl.build("efficientnet_lite0", num_classes=10, input_shape=(args.size, args.size, 3))
        kerastl.fine_tune(model, data, recipe="feature_extraction", head_epochs=args.head_epochs, verbose=0)
        after_head = model.get_weights()
        for upto in ["none", *kerastl.blocks(model)]:
            model.set_weights(after_head)
            if upto == "none":
                kerastl.unfreeze(model, "all")
            else:
                kerastl.freeze(model, upto=upto)
            trainable = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
            compile_task(model, 1e-4)
            keras.utils.set_random_seed(seed)
            start = time.perf_counter()
            model.fit(data, epochs=args.epochs, verbose=0)
            row = results.setdefault(upto, {"trainable_params": trainable, "accuracy": [], "seconds": []})
            row["accuracy"].append(accuracy(model, xh, yh))
            row["seconds"].append(time.perf_counter() - start)
            print(seed, upto, row["accuracy"][-1], flush=True)
        keras.backend.clear_session()
    rows = [{"frozen_upto": upto, "trainable_params": r["trainable_params"],
             "accuracy": round(float(np.mean(r["accuracy"])), 4), "accuracy_per_seed": [round(a, 4) for a in r["accuracy"]],
             "train_seconds": round(float(np.mean(r["seconds"])), 1)} for upto, r in results.items()]
    write_result("freeze_depth", {"backbone": "efficientnet_lite0", "shots_per_class": args.shots,
                                  "input_size": args.size, "held_out": HELD_OUT, "head_epochs": args.head_epochs,
                                  "epochs": args.epochs, "seeds": args.seeds, "rows": rows},
                 command="python bench/freeze_depth.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
